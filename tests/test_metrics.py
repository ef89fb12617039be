"""Metrics over a seeded history with known answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from jobqueue.models import ClusterHeartbeat, Job, JobType, Status
from jobqueue.observability import metrics

pytestmark = pytest.mark.django_db


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 101))
    assert metrics.percentile(values, 50) == 50
    assert metrics.percentile(values, 95) == 95
    assert metrics.percentile(values, 99) == 99
    assert metrics.percentile([7], 99) == 7
    assert metrics.percentile([], 50) is None


def test_counts_durations_and_waits_per_type_and_total(add_attempt: Any) -> None:
    now = timezone.now()
    for ms in range(1, 101):  # echo: durations 1..100 ms, waits 10..1000 ms
        add_attempt("echo", "succeeded", duration_ms=ms, wait_ms=ms * 10, finished_ago=30, now=now)
    for _ in range(3):
        add_attempt("noop", "failed", duration_ms=1000, now=now, finished_ago=120)
    add_attempt("noop", "failed", duration_ms=1000, number=3, dead=True, now=now, finished_ago=120)
    add_attempt("noop", "skipped", duration_ms=0, now=now, finished_ago=120)
    add_attempt("noop", "succeeded", duration_ms=5, now=now, finished_ago=2 * 3600)  # outside 1h

    snap = metrics.snapshot("1h", now=now)

    echo = snap.type("echo")
    assert echo is not None
    assert echo.counts.succeeded == 100
    assert echo.counts.failed == 0
    assert echo.counts.enqueued == 100
    assert echo.counts.success_rate == 1.0
    assert (echo.duration.p50, echo.duration.p95, echo.duration.p99, echo.duration.max) == (50, 95, 99, 100)
    assert echo.wait.p50 == pytest.approx(500)
    assert echo.wait.p95 == pytest.approx(950)

    noop = snap.type("noop")
    assert noop is not None
    assert noop.counts.failed == 4
    assert noop.counts.skipped == 1
    assert noop.counts.retried == 1
    assert noop.counts.dead_lettered == 1
    assert noop.counts.succeeded == 0
    assert noop.counts.failure_rate == pytest.approx(4 / 5)

    assert snap.total.counts.succeeded == 100
    assert snap.total.counts.failed == 4
    assert snap.total.counts.started == 105
    assert snap.total.duration.max == 1000

    # Throughput: one point a minute, the successes 30 s ago, the failures 2 min ago.
    assert snap.bucket_seconds == 60
    assert len(snap.throughput) == 60
    assert snap.throughput[-1].succeeded == 100
    assert sum(p.failed for p in snap.throughput) == 4
    assert sum(p.succeeded for p in snap.throughput) == 100

    wide = metrics.snapshot("24h", now=now)
    wide_noop = wide.type("noop")
    assert wide_noop is not None
    assert wide_noop.counts.succeeded == 1
    assert wide.bucket_seconds == 720


def test_cancelled_jobs_are_counted_without_attempts() -> None:
    now = timezone.now()
    Job.objects.create(
        job_type=JobType.objects.get(name="echo"), status=Status.CANCELLED, finished_at=now - timedelta(minutes=1)
    )
    assert metrics.snapshot("15m", now=now).total.counts.cancelled == 1


def test_queue_depth_oldest_ready_and_running() -> None:
    now = timezone.now()
    echo, noop = JobType.objects.get(name="echo"), JobType.objects.get(name="noop")
    Job.objects.create(job_type=echo, priority=50, run_after=now - timedelta(seconds=90))
    Job.objects.create(job_type=echo, priority=50, run_after=now - timedelta(seconds=10))
    Job.objects.create(job_type=noop, priority=0, run_after=now - timedelta(seconds=5))
    Job.objects.create(job_type=noop, priority=0, run_after=now + timedelta(hours=1))  # not ready yet
    Job.objects.create(job_type=noop, status=Status.RUNNING, started_at=now)

    snap = metrics.snapshot("15m", now=now)

    assert [(d.job_type, d.priority, d.ready) for d in snap.depth] == [("echo", 50, 2), ("noop", 0, 1)]
    assert snap.ready == 3
    assert snap.oldest_ready_age == pytest.approx(90)
    assert snap.running == 1


@override_settings(JOBQUEUE={"HEARTBEAT_INTERVAL": 5})
def test_clusters_live_lost_and_stopped() -> None:
    now = timezone.now()
    ClusterHeartbeat.objects.create(key="a:1:x", host="a", pid=1, workers=2, last_seen_at=now - timedelta(seconds=4))
    ClusterHeartbeat.objects.create(key="b:2:y", host="b", pid=2, workers=2, last_seen_at=now - timedelta(seconds=16))
    ClusterHeartbeat.objects.create(
        key="c:3:z", host="c", pid=3, workers=2, last_seen_at=now - timedelta(seconds=60), stopped_at=now
    )
    Job.objects.create(job_type=JobType.objects.get(name="echo"), status=Status.RUNNING, claimed_by="a:1:x")

    states = {c.key: (c.state, c.busy) for c in metrics.clusters(now)}

    assert states == {"a:1:x": ("live", 1), "b:2:y": ("lost", 0), "c:3:z": ("stopped", 0)}


def test_unknown_window_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown window"):
        metrics.snapshot("3y")
