"""The dead-letter admin: inspect, re-queue with a corrected payload, discard, re-queue all matching."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jobqueue.models import DeadLetter, Job, JobType, Resolution

pytestmark = pytest.mark.django_db
XSS = "<script>window.__xss = 1</script>"


def test_detail_shows_traceback_and_payload_escaped(login: Callable[..., Client], make_dead_letter: Any) -> None:
    dead = make_dead_letter(payload={"value": 1, "label": XSS}, error=XSS)
    page = login().get(reverse("admin:jobqueue_deadletter_change", args=[dead.pk])).content.decode()
    assert "<script>window.__xss" not in page
    assert "RuntimeError: &lt;script&gt;" in page
    assert "jq-traceback" in page
    assert 'class="jq-requeue"' not in page  # view-only


def test_list_shows_type_reason_error_and_resolution(login: Callable[..., Client], make_dead_letter: Any) -> None:
    make_dead_letter(error="disk full")
    page = login().get(reverse("admin:jobqueue_deadletter_changelist")).content.decode()
    assert "RuntimeError: disk full" in page
    assert "attempts_exhausted" in page or "Attempts Exhausted" in page
    assert "jq-requeue-matching" not in page


def test_requeue_with_an_edited_payload_is_validated(login: Callable[..., Client], make_dead_letter: Any) -> None:
    dead = make_dead_letter(payload={"value": "not a number"})
    client = login("jobqueue.requeue_deadletter", "jobqueue.enqueue_echo")
    url = reverse("admin:jobqueue_deadletter_requeue", args=[dead.pk])
    assert (
        'class="jq-requeue"' in client.get(reverse("admin:jobqueue_deadletter_change", args=[dead.pk])).content.decode()
    )

    form = client.get(url)
    assert "not a number" in form.content.decode()

    bad = client.post(url, {"payload": '{"value": "still not"}', "reason": "retry"})
    assert bad.status_code == 200
    assert "value:" in bad.content.decode()
    broken = client.post(url, {"payload": "{not json", "reason": "retry"})
    assert broken.status_code == 200
    assert "Enter a valid JSON" in broken.content.decode()
    dead.refresh_from_db()
    assert not dead.is_resolved

    good = client.post(url, {"payload": '{"value": 7}', "reason": "fixed the value"})
    assert good.status_code == 302
    dead.refresh_from_db()
    assert dead.resolution == Resolution.REQUEUED
    assert dead.requeued_job is not None
    assert dead.requeued_job.payload == {"value": 7, "label": ""}


def test_discard_needs_its_permission_and_a_reason(login: Callable[..., Client], make_dead_letter: Any) -> None:
    dead = make_dead_letter()
    url = reverse("admin:jobqueue_deadletter_discard", args=[dead.pk])
    assert login("jobqueue.requeue_deadletter").post(url, {"reason": "no"}).status_code == 403
    client = login("jobqueue.discard_deadletter")
    assert client.post(url, {"reason": ""}).status_code == 200
    assert client.post(url, {"reason": "obsolete order"}).status_code == 302
    dead.refresh_from_db()
    assert (dead.resolution, dead.resolution_reason) == (Resolution.DISCARDED, "obsolete order")


def test_requeue_all_matching_states_the_count_then_requeues_them(
    login: Callable[..., Client], make_dead_letter: Any
) -> None:
    echoes = [make_dead_letter("echo") for _ in range(3)]
    make_dead_letter("noop", payload={})
    resolved = make_dead_letter("echo")
    DeadLetter.objects.filter(pk=resolved.pk).update(resolution=Resolution.DISCARDED)
    echo_id = JobType.objects.get(name="echo").pk
    client = login("jobqueue.requeue_deadletter", "jobqueue.enqueue_echo")
    listing = client.get(reverse("admin:jobqueue_deadletter_changelist"), {"job_type__id__exact": echo_id})
    assert f"job_type__id__exact={echo_id}" in listing.content.decode()
    url = reverse("admin:jobqueue_deadletter_requeue_matching") + f"?job_type__id__exact={echo_id}"

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert '<strong class="jq-count">3</strong>' in confirm.content.decode()
    assert DeadLetter.objects.unresolved().count() == 4

    done = client.post(url, {"reason": "bug fixed"})
    assert done.status_code == 302
    assert DeadLetter.objects.filter(pk__in=[d.pk for d in echoes], resolution=Resolution.REQUEUED).count() == 3
    assert DeadLetter.objects.unresolved().count() == 1  # the noop one, outside the filter
    assert Job.objects.filter(rerun_of__in=[d.job for d in echoes]).count() == 3


def test_requeue_all_matching_refuses_without_permission_and_bad_filters(
    login: Callable[..., Client], make_dead_letter: Any
) -> None:
    make_dead_letter()
    url = reverse("admin:jobqueue_deadletter_requeue_matching")
    assert login().get(url).status_code == 403
    response = login("jobqueue.requeue_deadletter").get(url, {"created_at__gte": "yesterday-ish"})
    assert response.status_code in (200, 302)
    assert DeadLetter.objects.unresolved().count() == 1


def test_bulk_discard_action(login: Callable[..., Client], make_dead_letter: Any) -> None:
    dead = [make_dead_letter(), make_dead_letter()]
    client = login("jobqueue.discard_deadletter")
    response = client.post(
        reverse("admin:jobqueue_deadletter_changelist"),
        {"action": "discard", "_selected_action": [d.pk for d in dead], "confirmed": "yes", "reason": "dupes"},
    )
    assert response.status_code == 302
    assert DeadLetter.objects.filter(resolution=Resolution.DISCARDED).count() == 2


def test_requeue_needs_the_job_types_enqueue_permission_too(
    login: Callable[..., Client], make_dead_letter: Any
) -> None:
    dead = make_dead_letter()
    client = login("jobqueue.requeue_deadletter")  # may re-queue dead letters, but not enqueue echo
    detail = client.get(reverse("admin:jobqueue_deadletter_change", args=[dead.pk])).content.decode()
    assert 'class="jq-requeue"' not in detail
    url = reverse("admin:jobqueue_deadletter_requeue", args=[dead.pk])
    refused = client.post(url, {"payload": '{"value": 1}', "reason": "retry"})
    assert refused.status_code == 200
    assert "needs the permission jobqueue.enqueue_echo" in refused.content.decode()
    dead.refresh_from_db()
    assert not dead.is_resolved
