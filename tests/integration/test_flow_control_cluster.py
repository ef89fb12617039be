"""Flow control across real processes: rate limits, unique keys, batches, schedules, cancel."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobqueue import enqueue, enqueue_many
from jobqueue.models import Attempt, Job, JobType, Status
from jobqueue.services import cancel, update_job_type
from tests.conftest import ROOT, database_url, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


def test_rate_limit_holds_across_two_clusters(start_cluster, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    for _ in range(16):
        enqueue("rate_limited", {"ledger": str(ledger)})  # 5 per 2 s
    start_cluster(workers=2)
    start_cluster(workers=2)
    wait_for(
        lambda: Job.objects.filter(job_type__name="rate_limited", status=Status.SUCCEEDED).count() == 16, timeout=60
    )
    starts = sorted(float(line.split()[3]) for line in ledger.read_text().splitlines())
    busiest = max(sum(1 for s in starts if t <= s < t + 2.0) for t in starts)
    assert busiest == 5  # reached, never exceeded
    assert starts[-1] - starts[0] >= 4.0  # 16 starts at 5 per 2 s need more than 4 s


def test_concurrent_enqueues_of_one_unique_key_create_one_job(transactional_db: None) -> None:
    script = (
        "import django, time, sys; django.setup()\n"
        "from jobqueue import enqueue\n"
        "start = float(sys.argv[1])\n"
        "time.sleep(max(0, start - time.time()))\n"
        "ids = {str(enqueue('unique_by_key', {'key': 'same'}).pk) for _ in range(10)}\n"
        "print(' '.join(sorted(ids)))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url()}
    start = str(time.time() + 3)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, start], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(5)
    ]
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert Job.objects.filter(job_type__name="unique_by_key").count() == 1
    assert len({job_id for out in outputs for job_id in out}) == 1  # all 50 calls got that job


def test_batches_of_ten_and_only_failed_items_retried(start_cluster, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    enqueue_many([{"type": "batcher", "payload": {"item": i, "ledger": str(ledger)}} for i in range(100)])
    start_cluster(workers=2)
    batcher = Job.objects.filter(job_type__name="batcher")
    wait_for(lambda: batcher.filter(status=Status.SUCCEEDED).count() == 100, timeout=60)
    sizes = [int(line.split()[1]) for line in ledger.read_text().splitlines()]
    assert sizes == [10] * 10
    assert Attempt.objects.filter(job__job_type__name="batcher").values("batch_id").distinct().count() == 10
    enqueue_many([{"type": "batcher", "payload": {"item": i, "fail": i in (2, 5)}} for i in range(10)])
    wait_for(lambda: batcher.filter(status=Status.SUCCEEDED).count() == 110, timeout=60)
    retried = batcher.filter(attempts=2)
    assert sorted(j.payload["item"] for j in retried) == [2, 5]


def test_interval_schedule_with_two_clusters_fires_once_per_slot(start_cluster) -> None:
    update_job_type(JobType.objects.get(name="ticker"), {"enabled": True})
    start_cluster(workers=1)
    start_cluster(workers=1)
    first = wait_for(lambda: Job.objects.filter(job_type__name="ticker").order_by("created_at").first(), timeout=30)
    time.sleep(6.5)
    update_job_type(JobType.objects.get(name="ticker"), {"enabled": False})
    created = sorted(
        Job.objects.filter(job_type__name="ticker", created_at__lt=first.created_at + _seconds(6)).values_list(
            "created_at", flat=True
        )
    )
    # One job per slot: two clusters each firing every slot would have made about 12.
    assert 5 <= len(created) <= 7


def test_a_running_job_sees_its_cancel_within_two_seconds(start_cluster, make_user) -> None:
    job = enqueue("cancellable", {})
    start_cluster(workers=1)
    wait_for(lambda: Job.objects.get(pk=job.pk).started_at is not None, timeout=30)
    asked = time.monotonic()
    cancel(job, by=make_user())
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Status.CANCELLED, timeout=10)
    assert time.monotonic() - asked < 2.5
    assert Job.objects.get(pk=job.pk).result["message"] == "stopped on request"


def _seconds(n: float):
    from datetime import timedelta

    return timedelta(seconds=n)
