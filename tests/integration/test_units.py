"""Units of many jobs in real clusters: chunks, a worker killed mid-unit, priority, SQLite locking."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from jobqueue import Priority, enqueue, enqueue_many
from jobqueue.models import Attempt, ClusterHeartbeat, Job, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.cluster


def _runs(ledger: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in ledger.read_text().splitlines() if ledger.exists() else []:
        counts[line.split()[1]] = counts.get(line.split()[1], 0) + 1
    return counts


@pytest.mark.timeout(300)
def test_two_clusters_share_a_sqlite_file_without_transaction_mode(start_cluster) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite-specific: PostgreSQL has no database-wide write lock")
    settings = {"DJANGO_SETTINGS_MODULE": "tests.settings_plain_sqlite"}
    clusters = [start_cluster(workers=2, **settings), start_cluster(workers=2, **settings)]
    wait_for(lambda: ClusterHeartbeat.objects.filter(stopped_at__isnull=True).count() == 2, timeout=60)
    total = 2000
    for _ in range(10):  # enqueued while they claim, so that claims and enqueues contend
        enqueue_many([{"type": "noop", "payload": {}}] * (total // 10))
    wait_for(lambda: Job.objects.filter(status=Status.SUCCEEDED).count() == total, timeout=240, interval=0.5)
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}  # none claimed twice
    assert Attempt.objects.count() == total
    for cluster in clusters:
        assert "database is locked" not in cluster.output()


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_unit_loses_no_job_and_charges_only_the_job_that_killed_it(
    start_cluster, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    cluster = start_cluster(workers=1)
    # Warm up: the cluster learns that chunky jobs are short, and starts handing them out in chunks.
    enqueue_many([{"type": "chunky", "payload": {"ledger": str(ledger)}}] * 40)
    wait_for(lambda: Job.objects.filter(status=Status.SUCCEEDED).count() == 40, timeout=60)
    batch = [{"type": "chunky", "payload": {"ledger": str(ledger), "kill": i == 20}} for i in range(60)]
    jobs = enqueue_many(batch)
    wait_for(lambda: Job.objects.filter(status=Status.SUCCEEDED).count() == 100, timeout=120, interval=0.3)
    killer = Job.objects.get(pk=jobs[20].pk)
    assert killer.attempts == 2  # the attempt that killed its worker was spent, then it succeeded
    others = Job.objects.filter(pk__in=[j.pk for i, j in enumerate(jobs) if i != 20])
    assert set(others.values_list("attempts", flat=True)) == {1}  # nobody else was charged
    assert Attempt.objects.filter(job__in=others).count() == 59  # each recorded once
    runs = _runs(ledger)
    assert max(runs[str(j.pk)] for j in others) <= 2  # at most one re-run each (unflushed outcomes)
    handed_back = [line for line in cluster.output().splitlines() if "handed back" in line]
    assert handed_back, "the dead worker's unit held more jobs than the one that killed it"


@pytest.mark.timeout(300)
def test_a_critical_job_starts_ahead_of_a_deep_backlog_of_chunked_short_jobs(start_cluster) -> None:
    start_cluster(workers=2)
    backlog = 3000  # about 3 s of work for two workers
    enqueue_many([{"type": "short", "payload": {}}] * backlog)
    wait_for(lambda: Job.objects.filter(status=Status.SUCCEEDED).count() >= 300, timeout=60, interval=0.05)
    critical = enqueue("echo", {"value": 1}, priority=Priority.CRITICAL)
    left = Job.objects.filter(job_type__name="short").exclude(status=Status.SUCCEEDED).count()
    wait_for(lambda: Job.objects.get(pk=critical.pk).status == Status.SUCCEEDED, timeout=30, interval=0.01)
    started = Attempt.objects.get(job=critical).started_at
    waited = (started - critical.created_at).total_seconds()
    # Backlog finished after the critical job started: it did not wait for the whole backlog.
    # (Draining the rest would prove nothing more; the cluster gives it back when it stops.)
    behind = Job.objects.filter(job_type__name="short", status=Status.SUCCEEDED, finished_at__gt=started)
    wait_for(
        behind.exists,
        timeout=60,
        interval=0.05,
        message=f"the critical job waited for the whole backlog ({left} left, waited {waited:.3f} s)",
    )
    # One chunk budget (50 ms) plus pickup; generous for a loaded CI machine, far below the backlog's drain.
    assert waited < 1.0, waited
