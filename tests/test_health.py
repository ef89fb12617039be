"""Each health rule, triggered and cleared."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from jobqueue.models import ClusterHeartbeat, Job, JobType
from jobqueue.observability import health
from jobqueue.services import update_job_type

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _records_made_now() -> None:
    # The late-schedule rule ages a scheduled type that never ran from its record's creation.
    # The records were made when the suite's database was, minutes ago on a long run: these
    # tests start from a system set up just now (the late-schedule test ages its own record).
    JobType.objects.update(created_at=timezone.now())


def rules(result: health.Health) -> dict[str, health.Verdict]:
    return {r.rule: r.level for r in result.reasons}


def live_cluster() -> None:
    ClusterHeartbeat.objects.create(key="h:1:a", host="h", pid=1, last_seen_at=timezone.now())


def test_empty_system_is_healthy() -> None:
    result = health.check()
    assert result.verdict == health.Verdict.HEALTHY
    assert result.reasons == []


def test_ready_jobs_without_a_live_cluster_are_unhealthy() -> None:
    Job.objects.create(job_type=JobType.objects.get(name="echo"))
    assert rules(health.check()) == {"no_live_cluster": health.Verdict.UNHEALTHY}
    live_cluster()
    assert health.check().verdict == health.Verdict.HEALTHY


def test_a_lost_cluster_does_not_count_as_live() -> None:
    Job.objects.create(job_type=JobType.objects.get(name="echo"))
    ClusterHeartbeat.objects.create(key="h:1:a", host="h", pid=1, last_seen_at=timezone.now() - timedelta(minutes=1))
    assert "no_live_cluster" in rules(health.check())


@override_settings(JOBQUEUE={"HEALTH_MAX_READY_AGE": 60})
def test_old_ready_job_degrades() -> None:
    live_cluster()
    job = Job.objects.create(
        job_type=JobType.objects.get(name="echo"), run_after=timezone.now() - timedelta(seconds=61)
    )
    result = health.check()
    assert result.verdict == health.Verdict.DEGRADED
    assert rules(result) == {"old_ready_job": health.Verdict.DEGRADED}
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now() - timedelta(seconds=30))
    assert health.check().verdict == health.Verdict.HEALTHY


@pytest.mark.parametrize(
    ("failed", "succeeded", "expected"),
    [
        (6, 5, health.Verdict.UNHEALTHY),  # 55 % of 11 attempts
        (6, 4, health.Verdict.DEGRADED),  # 60 % but only 10 attempts: not > 10, so only the warning
        (2, 3, health.Verdict.DEGRADED),  # 40 % of 5
        (2, 2, None),  # 50 % of 4: too few attempts to judge
        (3, 7, None),  # 30 %: not above the warning
    ],
)
def test_failure_rate(add_attempt: Any, failed: int, succeeded: int, expected: health.Verdict | None) -> None:
    for _ in range(failed):
        add_attempt("noop", "failed", duration_ms=10)
    for _ in range(succeeded):
        add_attempt("noop", "succeeded", duration_ms=10)
    assert rules(health.check()).get("failure_rate") == expected


@override_settings(JOBQUEUE={"HEALTH_MAX_AVG_DURATION": 2})
def test_slow_type_degrades(add_attempt: Any) -> None:
    add_attempt("echo", "succeeded", duration_ms=1000)
    add_attempt("echo", "succeeded", duration_ms=4000)
    assert rules(health.check()) == {"slow_type": health.Verdict.DEGRADED}
    add_attempt("echo", "succeeded", duration_ms=100)
    assert health.check().verdict == health.Verdict.HEALTHY


def test_dead_letter_rate_degrades(add_attempt: Any) -> None:
    for _ in range(8):
        add_attempt("echo", "succeeded", duration_ms=10)
    for _ in range(2):
        add_attempt("noop", "failed", duration_ms=10, number=1, dead=True)
    result = health.check()
    assert rules(result) == {"dead_letter_rate": health.Verdict.DEGRADED}
    for _ in range(12):
        add_attempt("echo", "succeeded", duration_ms=10)
    assert health.check().verdict == health.Verdict.HEALTHY


def test_late_schedule_degrades(add_attempt: Any) -> None:
    record = JobType.objects.get(name="noop")  # a schedule needs a type that takes no payload
    JobType.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(hours=1))
    update_job_type(JobType.objects.get(pk=record.pk), {"schedule": "60"})
    result = health.check()
    assert rules(result) == {"late_schedule": health.Verdict.DEGRADED}
    assert "never run" in result.reasons[0].message
    add_attempt("noop", "succeeded", finished_ago=30)
    assert health.check().verdict == health.Verdict.HEALTHY


def test_schedule_interval_of_a_cron_expression() -> None:
    from jobqueue.config.options import Schedule

    assert health.schedule_interval(Schedule.parse("*/5 * * * *"), timezone.now()) == 300
    assert health.schedule_interval(Schedule.parse(90), timezone.now()) == 90
