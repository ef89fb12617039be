"""The admin's job-creating actions (re-run, re-queue, a failure group's re-queue, run now) spend
the user's job rate, the same budget as the API's: an action that does not fit is refused
whole, with a message, and creates no job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from jobqueue.models import DeadLetter, Job, JobType, Resolution
from jobqueue.observability.failures import report
from jobqueue.services.tokens import create_token
from tests.admin.test_failures import fail
from tests.admin.test_jobs import finished_job

pytestmark = pytest.mark.django_db

RERUN = ("jobqueue.rerun_job", "jobqueue.enqueue_echo")
REQUEUE = ("jobqueue.requeue_deadletter", "jobqueue.enqueue_echo")


def said(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def rerun_selected(client: Client, jobs: list[Job]) -> Any:
    selection = {"action": "rerun_jobs", "_selected_action": [j.pk for j in jobs], "confirmed": "yes"}
    return client.post(reverse("admin:jobqueue_job_changelist"), {**selection, "reason": "upstream fixed"})


@override_settings(JOBQUEUE={"API_ENQUEUE_RATE": "3/minute"})
def test_a_bulk_rerun_that_does_not_fit_is_refused_whole(login: Callable[..., Client]) -> None:
    jobs = [finished_job() for _ in range(4)]
    client = login(*RERUN)

    refused = rerun_selected(client, jobs)
    assert refused.status_code == 302
    assert not Job.objects.filter(rerun_of__in=jobs).exists()  # not three of the four: none
    assert any("Refused by your job rate" in m and "nothing was re-run" in m for m in said(refused))

    assert rerun_selected(client, jobs[:3]).status_code == 302
    assert Job.objects.filter(rerun_of__in=jobs).count() == 3
    one = client.post(reverse("admin:jobqueue_job_rerun", args=[jobs[3].pk]), {"reason": "again"})
    assert one.status_code == 302
    assert any("3 of the 3 allowed" in m for m in said(one))
    assert not Job.objects.filter(rerun_of=jobs[3]).exists()


@override_settings(JOBQUEUE={"API_ENQUEUE_RATE": "3/minute"})
def test_the_admin_and_the_api_spend_one_budget_per_user(login: Callable[..., Client], make_user: Any) -> None:
    user = make_user("both", "jobqueue.view_job", "jobqueue.add_job", *RERUN)
    admin = Client()
    admin.force_login(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(user, 'tests').secret}")
    bulk = {"jobs": [{"type": "echo", "payload": {"value": 1}}] * 2}
    assert api.post("/api/jobs/bulk/", bulk, format="json").status_code == 201

    jobs = [finished_job() for _ in range(2)]
    refused = rerun_selected(admin, jobs)
    assert any("2 of the 3 allowed" in m for m in said(refused))
    assert not Job.objects.filter(rerun_of__in=jobs).exists()
    assert rerun_selected(admin, jobs[:1]).status_code == 302
    assert api.post("/api/jobs/", {"type": "echo", "payload": {"value": 1}}, format="json").status_code == 429
    # Another user has a budget of their own.
    assert rerun_selected(login(*RERUN), jobs[1:]).status_code == 302
    assert Job.objects.filter(rerun_of__in=jobs).count() == 2


@override_settings(JOBQUEUE={"API_ENQUEUE_RATE": "2/minute"})
def test_requeues_all_matching_and_one_by_one_spend_the_rate(
    login: Callable[..., Client], make_dead_letter: Any
) -> None:
    letters = [make_dead_letter("echo") for _ in range(3)]
    client = login(*REQUEUE)
    matching = reverse("admin:jobqueue_deadletter_requeue_matching")

    refused = client.post(matching, {"reason": "bug fixed"})
    assert refused.status_code == 302
    assert any("nothing was re-queued" in m for m in said(refused))
    assert DeadLetter.objects.unresolved().count() == 3
    assert not Job.objects.filter(rerun_of__isnull=False).exists()

    selection = {"action": "requeue", "_selected_action": [d.pk for d in letters[:2]], "confirmed": "yes"}
    done = client.post(reverse("admin:jobqueue_deadletter_changelist"), {**selection, "reason": "r"})
    assert done.status_code == 302
    assert DeadLetter.objects.filter(resolution=Resolution.REQUEUED).count() == 2

    one = client.post(
        reverse("admin:jobqueue_deadletter_requeue", args=[letters[2].pk]), {"payload": '{"value": 2}', "reason": "r"}
    )
    assert one.status_code == 200  # the form again, with the refusal on it
    assert "Refused by your job rate" in one.content.decode()
    assert DeadLetter.objects.unresolved().get() == letters[2]
    assert Job.objects.filter(rerun_of__isnull=False).count() == 2


@override_settings(JOBQUEUE={"API_ENQUEUE_RATE": "2/minute"})
def test_a_failure_groups_requeue_that_does_not_fit_is_refused_whole(login: Callable[..., Client]) -> None:
    jobs = [fail("echo", "TimeoutError", f"timed out after {i} s") for i in range(3)]
    group = report("24h").groups[0]
    client = login(*REQUEUE)
    response = client.post(
        reverse("admin:jobqueue_failure_action", args=[group.key, "requeue"]),
        {"requeue-window": "24h", "requeue-until": timezone.now().isoformat(), "requeue-reason": "upstream is back"},
    )
    assert response.status_code == 302
    assert any("nothing was re-queued" in m for m in said(response))
    assert DeadLetter.objects.unresolved().count() == 3
    assert not Job.objects.filter(rerun_of__in=jobs).exists()


@override_settings(JOBQUEUE={"API_ENQUEUE_RATE": "1/minute"})
def test_run_now_spends_the_rate(login: Callable[..., Client]) -> None:
    url = reverse("admin:jobqueue_jobtype_run", args=[JobType.objects.get(name="echo").pk])
    client = login("jobqueue.add_job", "jobqueue.enqueue_echo")
    assert client.post(url, {"payload": '{"value": 3}'}).status_code == 302
    refused = client.post(url, {"payload": '{"value": 4}'})
    assert refused.status_code == 200
    assert "Refused by your job rate" in refused.content.decode()
    assert Job.objects.count() == 1
