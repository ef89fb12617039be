"""A job type's history: the same totals as the dashboard's, whether read raw or from the rollup."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from jobqueue.models import Job, JobType
from jobqueue.observability import metrics, rollup
from jobqueue.observability.history import history

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rolled", [False, True])
def test_history_totals_match_the_dashboard_and_the_series_adds_up(add_attempt: Any, rolled: bool) -> None:
    now = timezone.now()
    for i in range(40):
        outcome = "failed" if i % 5 == 0 else "succeeded"
        add_attempt(
            "echo", outcome, duration_ms=10 * (i + 1), finished_ago=5400 * i + 200, dead=outcome == "failed", now=now
        )
    add_attempt("noop", "failed", finished_ago=300, now=now)  # another type: not counted
    Job.objects.create(job_type=JobType.objects.get(name="echo"))  # waiting now
    if rolled:
        rollup.roll_up(now, max_minutes=10 * 24 * 60)
        assert rollup.rolled_until() is not None
    record = JobType.objects.get(name="echo")
    for window in ("24h", "7d"):
        found = history(record, window, now=now)
        _, types, _ = metrics.window_metrics(now - metrics.window_delta(window), now)
        dashboard = next(t for t in types if t.name == "echo")
        summary = found.summary
        assert (summary.succeeded, summary.failed) == (dashboard.counts.succeeded, dashboard.counts.failed)
        assert summary.dead_lettered == dashboard.counts.dead_lettered
        assert summary.enqueued == dashboard.counts.enqueued
        assert sum(p.succeeded for p in found.points) == summary.succeeded
        assert sum(p.failed for p in found.points) == summary.failed
        assert summary.p50 is not None
        assert dashboard.duration.p50 is not None
        assert abs(summary.p50 - dashboard.duration.p50) <= 0.2 * dashboard.duration.p50
        assert found.waiting_now == 1
        assert found.points[-1].waiting == 1
    assert history(record, "24h", now=now).summary.attempts == 16  # one every 1.5 h
