"""The jobs admin: list, detail with attempts, re-run and cancel with a reason, permissions, escaping."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jobqueue.models import Attempt, Job, JobType, Status

pytestmark = pytest.mark.django_db
XSS = "<script>window.__xss = 1</script>"


def finished_job(**fields: Any) -> Job:
    now = timezone.now()
    defaults: dict[str, Any] = {
        "status": Status.SUCCEEDED,
        "started_at": now,
        "finished_at": now,
        "attempts": 1,
        "payload": {"value": 1},
    }
    return Job.objects.create(job_type=JobType.objects.get(name="echo"), **{**defaults, **fields})


def test_list_filters_search_and_no_full_count(login: Callable[..., Client]) -> None:
    client = login()
    job = finished_job(payload={"value": 1}, unique_key="order-42")
    url = reverse("admin:jobqueue_job_changelist")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"status__exact": "succeeded"})
    assert response.status_code == 200
    assert str(job.pk) in response.content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts
    assert all("LIMIT" in sql.upper() for sql in counts), counts
    assert str(job.pk) in client.get(url, {"q": "order-42"}).content.decode()
    assert str(job.pk) in client.get(url, {"q": str(job.pk)}).content.decode()
    assert client.get(url, {"q": "not a uuid"}).status_code == 200
    assert client.get(url, {"created_at__gte": "not a date"}).status_code in (200, 302)


def test_detail_shows_attempts_progress_links_and_escapes_everything(login: Callable[..., Client]) -> None:
    original = finished_job()
    job = finished_job(payload={"text": XSS}, result={"note": XSS}, rerun_of=original)
    Attempt.objects.create(
        job=job,
        number=1,
        outcome="failed",
        duration_ms=1234,
        error_type="ValueError",
        error_message=XSS,
        traceback=f"Traceback\n{XSS}",
        logs=[{"at": "2026-01-01T00:00:00", "level": "INFO", "message": XSS}],
    )
    running = Job.objects.create(
        job_type=JobType.objects.get(name="echo"), status=Status.RUNNING, progress=0.4, progress_message=XSS
    )
    client = login()

    page = client.get(reverse("admin:jobqueue_job_change", args=[job.pk])).content.decode()

    assert "<script>window.__xss" not in page
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    assert "Attempt 1: failed" in page
    assert "1234 ms" in page
    assert "jq-traceback" in page
    assert "jq-logs" in page
    assert reverse("admin:jobqueue_job_change", args=[original.pk]) in page
    assert 'class="jq-rerun"' not in page  # view-only: no action links
    origin_page = client.get(reverse("admin:jobqueue_job_change", args=[original.pk])).content.decode()
    assert reverse("admin:jobqueue_job_change", args=[job.pk]) in origin_page
    running_page = client.get(reverse("admin:jobqueue_job_change", args=[running.pk]))
    assert '<progress class="jq-progress" max="1" value="0.400">' in running_page.content.decode()
    assert "<script>window.__xss" not in running_page.content.decode()
    assert "script-src 'self'" in running_page["Content-Security-Policy"]


def test_view_only_staff_cannot_act(login: Callable[..., Client]) -> None:
    job = finished_job()
    client = login()
    changelist = client.get(reverse("admin:jobqueue_job_changelist"))
    assert "rerun_jobs" not in changelist.content.decode()
    response = client.post(
        reverse("admin:jobqueue_job_changelist"),
        {"action": "rerun_jobs", "_selected_action": [job.pk], "confirmed": "yes", "reason": "try"},
    )
    assert Job.objects.filter(rerun_of=job).count() == 0
    assert response.status_code in (200, 302)
    assert client.get(reverse("admin:jobqueue_job_rerun", args=[job.pk])).status_code == 403
    assert client.post(reverse("admin:jobqueue_job_cancel", args=[job.pk]), {"reason": "x"}).status_code == 403


def test_bulk_rerun_asks_for_a_reason_then_reruns_and_audits(login: Callable[..., Client]) -> None:
    jobs = [finished_job(), finished_job()]
    client = login("jobqueue.rerun_job", "jobqueue.enqueue_echo")
    url = reverse("admin:jobqueue_job_changelist")
    selection = {"action": "rerun_jobs", "_selected_action": [j.pk for j in jobs]}

    confirm = client.post(url, selection)
    assert confirm.status_code == 200
    assert 'name="reason"' in confirm.content.decode()
    assert Job.objects.filter(rerun_of__in=jobs).count() == 0

    missing = client.post(url, {**selection, "confirmed": "yes", "reason": ""})
    assert missing.status_code == 200
    assert "This field is required" in missing.content.decode()

    done = client.post(url, {**selection, "confirmed": "yes", "reason": "upstream fixed"})
    assert done.status_code == 302
    assert Job.objects.filter(rerun_of__in=jobs).count() == 2
    entry = LogEntry.objects.filter(object_id=str(jobs[0].pk)).get()
    assert json.loads(entry.change_message)["reason"] == "upstream fixed"


def test_cancel_one_waiting_job_from_its_page(login: Callable[..., Client]) -> None:
    job = Job.objects.create(job_type=JobType.objects.get(name="echo"))
    client = login("jobqueue.cancel_job")
    detail = client.get(reverse("admin:jobqueue_job_change", args=[job.pk])).content.decode()
    assert 'class="jq-cancel"' in detail
    response = client.post(reverse("admin:jobqueue_job_cancel", args=[job.pk]), {"reason": "not needed"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    # A second cancel is refused with a message, not an error page.
    again = client.post(reverse("admin:jobqueue_job_cancel", args=[job.pk]), {"reason": "again"}, follow=True)
    assert again.status_code == 200
    assert "nothing to cancel" in again.content.decode()


def test_unknown_job_id_is_404_not_500(login: Callable[..., Client]) -> None:
    client = login("jobqueue.rerun_job")
    assert client.get(reverse("admin:jobqueue_job_rerun", args=["nope"])).status_code == 404
    assert client.get(reverse("admin:jobqueue_job_change", args=["nope"])).status_code in (302, 404)


def test_rerun_needs_the_job_types_enqueue_permission_too(login: Callable[..., Client]) -> None:
    job = finished_job()
    client = login("jobqueue.rerun_job")  # may re-run jobs, but not enqueue echo
    detail = client.get(reverse("admin:jobqueue_job_change", args=[job.pk])).content.decode()
    assert 'class="jq-rerun"' not in detail
    refused = client.post(reverse("admin:jobqueue_job_rerun", args=[job.pk]), {"reason": "again"}, follow=True)
    assert refused.status_code == 200
    assert "needs the permission jobqueue.enqueue_echo" in refused.content.decode()
    assert not Job.objects.filter(rerun_of=job).exists()
    allowed = login("jobqueue.rerun_job", "jobqueue.enqueue_echo")
    assert 'class="jq-rerun"' in allowed.get(reverse("admin:jobqueue_job_change", args=[job.pk])).content.decode()
