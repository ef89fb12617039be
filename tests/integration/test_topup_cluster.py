"""Async units that top up as their jobs finish, in real clusters (jobqueue.engine.topup)."""

from __future__ import annotations

import os
import signal
from datetime import datetime

import pytest
from django.db import connection

from jobqueue import Priority, enqueue, enqueue_many
from jobqueue.models import Attempt, ClusterHeartbeat, Job, Outcome, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.cluster

N = 4  # the type's async_concurrency in these clusters: its units' slots
PINNED = {"JOBQUEUE_WAIT_ASYNC_ASYNC_CONCURRENCY": str(N)}


def _jobs(seconds: float, count: int) -> list[dict[str, object]]:
    return [{"type": "wait_async", "payload": {"seconds": seconds}}] * count


def _most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    """The most attempts running at the same moment (an end before a start at the same instant)."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


@pytest.mark.timeout(300)
def test_quick_jobs_keep_the_other_slots_busy_while_a_slow_one_runs(start_cluster) -> None:
    start_cluster(workers=1, **PINNED)
    # One transaction, the slow job first in claim order: it is in the first unit, and before
    # top-ups that unit (and the cluster's only worker) waited for it with 3 slots idle.
    slow, *quick = enqueue_many(_jobs(2.0, 1) + _jobs(0.05, 150))
    wait_for(lambda: Job.objects.get(pk=slow.pk).status == Status.SUCCEEDED, timeout=60, interval=0.1)
    slow_end = Attempt.objects.get(job_id=slow.pk).finished_at
    before = Attempt.objects.filter(job_id__in=[j.pk for j in quick], finished_at__lt=slow_end).count()
    # 3 slots for 2 s of 50 ms jobs: dozens; without top-ups, the 3 quick jobs of its unit.
    assert before > 3 * N, before


@pytest.mark.timeout(300)
def test_top_ups_never_exceed_the_types_concurrency_limit(start_cluster) -> None:
    limit = 3
    env = {**PINNED, "JOBQUEUE_WAIT_ASYNC_CONCURRENCY": str(limit)}
    start_cluster(workers=2, **env)
    jobs = enqueue_many(_jobs(0.1, 40) + _jobs(0.3, 20))
    wait_for(
        lambda: Job.objects.filter(status=Status.SUCCEEDED).count() == len(jobs),
        timeout=120,
        interval=0.2,
        message=f"not drained: {list(Job.objects.values_list('status', flat=True))}",
    )
    spans = list(Attempt.objects.values_list("started_at", "finished_at"))
    assert len(spans) == len(jobs)
    assert _most_at_once(spans) == limit  # reached, never passed
    # The jobs claimed that the heartbeat reports count the workers' top-ups too.
    wait_for(lambda: ClusterHeartbeat.objects.get().claimed == len(jobs), timeout=30, interval=0.5)


@pytest.mark.timeout(300)
def test_stopping_mid_top_up_loses_no_job(start_cluster) -> None:
    cluster = start_cluster(workers=2, **PINNED)
    jobs = enqueue_many(_jobs(0.2, 400))  # about 10 s of work for 2 x 4 slots
    wait_for(lambda: Job.objects.filter(status=Status.SUCCEEDED).count() >= 40, timeout=60, interval=0.05)
    assert cluster.stop(signal.SIGTERM, timeout=60) == 0
    rows = Job.objects.filter(pk__in=[j.pk for j in jobs])
    statuses = set(rows.values_list("status", flat=True))
    assert statuses <= {Status.SUCCEEDED, Status.QUEUED}, statuses  # none stuck running or claimed
    assert rows.filter(status=Status.QUEUED).exists()  # stopped mid-drain, not after it
    assert set(rows.filter(status=Status.QUEUED).values_list("attempts", flat=True)) == {0}
    succeeded = rows.filter(status=Status.SUCCEEDED)
    assert set(succeeded.values_list("attempts", flat=True)) == {1}
    assert Attempt.objects.count() == succeeded.count()  # each ran once, none cut short
    assert "Traceback" not in cluster.output()


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_top_up_leaves_its_jobs_to_the_reclaimer(start_cluster) -> None:
    start_cluster(workers=1, **PINNED)
    jobs = enqueue_many(_jobs(0.2, 120))  # 6 s for one worker's 4 slots; its first unit tops up for 5
    wait_for(lambda: Job.objects.filter(status=Status.SUCCEEDED).count() >= 3 * N, timeout=60, interval=0.02)
    worker = wait_for(
        lambda: Job.objects.filter(status=Status.RUNNING).exclude(worker="").values_list("worker", flat=True).first()
    )
    os.kill(int(worker.rpartition(":")[2]), signal.SIGKILL)
    rows = Job.objects.filter(pk__in=[j.pk for j in jobs])
    wait_for(
        lambda: rows.filter(status__in=[Status.SUCCEEDED, Status.DEAD]).count() == len(jobs),
        timeout=120,
        interval=0.2,
        message=f"not all ended: {sorted(rows.values_list('status', flat=True))}",
    )
    # wait_async has one attempt: the jobs in flight in the killed worker are dead, as crashed.
    dead = rows.filter(status=Status.DEAD)
    assert 1 <= dead.count() <= N
    lost = Attempt.objects.filter(job__in=dead)
    assert set(lost.values_list("outcome", "error_type")) == {(Outcome.CRASHED, "WorkerLost")}
    # Every other job ran once and succeeded: a claim the worker made and never started went
    # back to the queue, attempt unspent.
    assert set(rows.filter(status=Status.SUCCEEDED).values_list("attempts", flat=True)) == {1}
    assert Attempt.objects.count() == len(jobs)


@pytest.mark.timeout(300)
def test_an_urgent_job_of_another_type_does_not_wait_for_the_top_up_window(start_cluster) -> None:
    start_cluster(workers=1, **PINNED)
    enqueue_many(_jobs(0.2, 400))  # 20 s of work for one worker's 4 slots
    # Its unit tops up for ASYNC_TOPUP_SECONDS (5 s, the type's whole timeout).
    wait_for(lambda: Job.objects.filter(status=Status.SUCCEEDED).count() >= 12, timeout=60, interval=0.02)
    urgent = enqueue("echo", {"value": 1}, priority=Priority.HIGH)
    wait_for(lambda: Job.objects.get(pk=urgent.pk).status == Status.SUCCEEDED, timeout=30, interval=0.02)
    waited = (Attempt.objects.get(job=urgent).started_at - urgent.created_at).total_seconds()
    # The unit stops topping up once the urgent unit waits, and drains its jobs (0.2 s each).
    bound = 1.5 if connection.vendor != "mysql" else 2.5
    assert waited < bound, waited
    assert Job.objects.filter(job_type__name="wait_async").exclude(status=Status.SUCCEEDED).exists()
