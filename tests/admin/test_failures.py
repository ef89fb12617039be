"""Failures grouped by cause: normalisation, the groups of a window, and the group actions
(re-queue / discard its dead letters) with their permissions and audit entries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobqueue.models import Attempt, DeadLetter, Job, JobType, Resolution, Status
from jobqueue.observability.failures import normalise, report

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("timed out after 30 s", "timed out after <n> s"),
        ("job 0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b not found", "job <uuid> not found"),
        ("user 'alice' has no wallet \"SP2X\"", "user '<value>' has no wallet \"<value>\""),
        ("tx 0xdeadbeef failed at block 1234567", "tx <hex> failed at block <n>"),
        ("hash 9f86d081884c7d659a2feaa0c55ad015 mismatch\nsecond line", "hash <hex> mismatch"),
        ("HTTP 503 from api2.example.com", "HTTP <n> from api2.example.com"),
    ],
)
def test_normalise_replaces_the_variable_parts(message: str, expected: str) -> None:
    assert normalise(message) == expected


def fail(
    type_name: str, error_type: str, message: str, *, ago: float = 60, dead: bool = True, typed: bool = True
) -> Job:
    """A failed attempt as the engine records it (with its job's type; `typed=False`: as
    recorded before migration 0012), and its dead letter."""
    now = timezone.now()
    job = Job.objects.create(
        job_type=JobType.objects.get(name=type_name),
        payload={"value": 1},
        status=Status.DEAD if dead else Status.RETRYING,
        attempts=1,
        last_error=f"{error_type}: {message}",
    )
    Attempt.objects.create(
        job=job,
        job_type=job.job_type if typed else None,
        number=1,
        outcome="failed",
        finished_at=now - timedelta(seconds=ago),
        duration_ms=5,
        error_type=error_type,
        error_message=message,
        traceback=f'Traceback (most recent call last):\n  File "x.py"\n{error_type}: {message}',
    )
    if dead:
        DeadLetter.objects.create(
            job=job,
            job_type=job.job_type,
            reason="attempts_exhausted",
            error_type=error_type,
            error_message=message,
            traceback="tb",
            payload=job.payload,
            attempts=1,
            created_at=now - timedelta(seconds=ago),
        )
    return job


def test_report_groups_by_type_error_and_normalised_message() -> None:
    for i in range(3):
        fail("echo", "TimeoutError", f"upstream timed out after {10 + i} s", ago=60 * (i + 1))
    fail("echo", "TimeoutError", "upstream timed out after 99 s", ago=30, dead=False)
    fail("echo", "KeyError", "'dao_id'", ago=100)
    fail("noop", "TimeoutError", "upstream timed out after 5 s", ago=7200)
    fail("noop", "TimeoutError", "too old", ago=3 * 86400)

    found = report("24h")
    summary = [(g.job_type, g.error_type, g.message, g.count, g.dead_letters) for g in found.groups]
    assert summary == [
        ("echo", "TimeoutError", "upstream timed out after <n> s", 4, 3),
        ("echo", "KeyError", "'<value>'", 1, 1),
        ("noop", "TimeoutError", "upstream timed out after <n> s", 1, 1),
    ]
    top = found.groups[0]
    assert top.first_seen is not None
    assert top.last_seen is not None
    assert top.first_seen < top.last_seen
    assert sum(top.series) == 4
    assert len(top.series) == 24
    sample = top.sample()  # the newest attempt
    assert "TimeoutError: upstream timed out after 99 s" in sample.traceback
    assert sample.job_id == Attempt.objects.get(error_message="upstream timed out after 99 s").job_id
    assert [g.job_type for g in report("24h", job_type="noop").groups] == ["noop"]
    assert len(report("7d").groups) == 4


def test_attempts_recorded_without_their_type_are_grouped_by_their_jobs_type() -> None:
    # Attempts recorded before migration 0012 have no type of their own: the report looks up
    # their job's, and they join the groups of the attempts recorded since.
    fail("echo", "TimeoutError", "upstream timed out after 1 s", ago=60, typed=False)
    fail("echo", "TimeoutError", "upstream timed out after 2 s", ago=30)
    fail("noop", "TimeoutError", "upstream timed out after 3 s", ago=90, typed=False)
    assert Attempt.objects.filter(job_type=None).count() == 2

    found = report("24h")
    assert [(g.job_type, g.count, g.dead_letters) for g in found.groups] == [("echo", 2, 2), ("noop", 1, 1)]
    assert found.groups[0].job_type_id == JobType.objects.get(name="echo").pk
    assert [(g.job_type, g.count) for g in report("24h", job_type="noop").groups] == [("noop", 1)]
    assert [(g.job_type, g.count) for g in report("24h", job_type="echo").groups] == [("echo", 2)]


def test_requeue_a_group_resolves_only_its_dead_letters_and_is_audited(login: Callable[..., Client]) -> None:
    mine = [fail("echo", "TimeoutError", f"timed out after {i} s") for i in range(3)]
    other = fail("echo", "KeyError", "'dao_id'")
    group = report("24h").groups[0]
    client = login("jobqueue.requeue_deadletter", "jobqueue.enqueue_echo")
    page = client.get(reverse("admin:jobqueue_failure_group", args=[group.key]), {"window": "24h"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Re-queue 3 dead letters" in body
    assert "TimeoutError: timed out after 2 s" in body
    assert "Discard 3" not in body  # no discard permission: no discard form

    until = page.context["report"].now.isoformat()
    response = client.post(
        reverse("admin:jobqueue_failure_action", args=[group.key, "requeue"]),
        {"requeue-window": "24h", "requeue-until": until, "requeue-reason": "upstream is back"},
    )
    assert response.status_code == 302
    for job in mine:
        dead = DeadLetter.objects.get(job=job)
        assert dead.resolution == Resolution.REQUEUED
        assert dead.resolution_reason == "upstream is back"
        assert Job.objects.filter(rerun_of=job, status=Status.QUEUED).exists()
    assert DeadLetter.objects.get(job=other).resolution == ""
    summary = LogEntry.objects.filter(object_id=str(JobType.objects.get(name="echo").pk)).get()
    assert "requeue group" in summary.change_message
    assert "3 re-queued" in summary.change_message
    assert LogEntry.objects.filter(change_message__contains='"requeue"').count() == 3


def test_discard_needs_a_reason_and_its_permission(login: Callable[..., Client]) -> None:
    job = fail("echo", "TimeoutError", "timed out after 1 s")
    key = report("24h").groups[0].key
    url = reverse("admin:jobqueue_failure_action", args=[key, "discard"])
    data: dict[str, Any] = {"discard-window": "24h", "discard-until": timezone.now().isoformat(), "discard-reason": ""}

    assert login().post(url, data).status_code == 403  # view-only
    assert login("jobqueue.requeue_deadletter").post(url, data).status_code == 403  # the wrong permission
    client = login("jobqueue.discard_deadletter")
    refused = client.post(url, data, follow=True)
    assert "Write a reason" in refused.content.decode()
    assert DeadLetter.objects.get(job=job).resolution == ""
    client.post(url, {**data, "discard-reason": "known outage, jobs obsolete"})
    assert DeadLetter.objects.get(job=job).resolution == Resolution.DISCARDED


def test_a_dead_letter_newer_than_the_page_is_left_alone(login: Callable[..., Client]) -> None:
    fail("echo", "TimeoutError", "timed out after 1 s", ago=120)
    key = report("24h").groups[0].key
    shown_at = timezone.now() - timedelta(seconds=60)
    late = fail("echo", "TimeoutError", "timed out after 2 s", ago=10)
    client = login("jobqueue.requeue_deadletter", "jobqueue.enqueue_echo")
    url = reverse("admin:jobqueue_failure_action", args=[key, "requeue"])
    client.post(url, {"requeue-window": "24h", "requeue-until": shown_at.isoformat(), "requeue-reason": ""})
    assert DeadLetter.objects.get(job=late).resolution == ""
    assert DeadLetter.objects.filter(resolution=Resolution.REQUEUED).count() == 1


def test_failures_page_lists_groups_escaped_with_sparklines(login: Callable[..., Client]) -> None:
    fail("echo", "ValueError", "<script>alert(1)</script>")
    response = login().get(reverse("admin:jobqueue_failures"), {"window": "1h", "type": "echo"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert" not in body
    assert "&lt;script&gt;" in body
    assert 'class="jq-spark"' in body
    fragment = login().get(reverse("admin:jobqueue_failures"), {"fragment": "1"}).content.decode()
    assert "<html" not in fragment
    assert "jq-failure-group" in fragment
    assert login().get(reverse("admin:jobqueue_failure_group", args=["nope"])).status_code == 404


def test_requeue_of_a_group_needs_the_job_types_enqueue_permission(login: Callable[..., Client]) -> None:
    job = fail("echo", "TimeoutError", "timed out after 1 s")
    group = report("24h").groups[0]
    client = login("jobqueue.requeue_deadletter")  # may re-queue dead letters, but not enqueue echo
    page = client.get(reverse("admin:jobqueue_failure_group", args=[group.key]), {"window": "24h"})
    assert "Re-queue 1 dead letter" not in page.content.decode()
    until = page.context["report"].now.isoformat()
    refused = client.post(
        reverse("admin:jobqueue_failure_action", args=[group.key, "requeue"]),
        {"requeue-window": "24h", "requeue-until": until, "requeue-reason": "try"},
        follow=True,
    )
    assert "needs the permission jobqueue.enqueue_echo; nothing was re-queued" in refused.content.decode()
    assert DeadLetter.objects.get(job=job).resolution == ""
    assert not Job.objects.filter(rerun_of=job).exists()
