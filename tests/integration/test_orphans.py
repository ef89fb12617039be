"""A real qcluster whose main process is SIGKILLed leaves no process behind, and a replacement
finishes every job (SQLite and PostgreSQL; tests/faults/ repeats it with two clusters)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from jobqueue import enqueue_many
from jobqueue.models import Attempt, Job, Status
from tests.conftest import wait_for
from tests.faults.conftest import short_timeouts
from tests.processes import descendants, running

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def test_killing_the_main_process_kills_every_process_it_started(start_cluster, tmp_path) -> None:
    ledger = tmp_path / "ledger"
    enqueue_many([{"type": "durable", "payload": {"ledger": str(ledger), "sleep": 0.2}} for _ in range(30)])
    cluster = start_cluster(**short_timeouts())
    wait_for(lambda: ledger.exists() and ledger.read_text().count("start") >= 3)
    family = descendants(cluster.proc.pid)
    assert len(family) >= 4, family  # sentinel, pusher, monitor, workers

    os.kill(cluster.proc.pid, signal.SIGKILL)
    cluster.proc.wait(5)
    killed = time.monotonic()
    try:
        wait_for(lambda: not any(running(pid) for pid in family), timeout=5, interval=0.05, message="orphans left")
    finally:
        for pid in family:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
    print(f"all {len(family)} processes gone {time.monotonic() - killed:.2f} s after the kill")

    start_cluster(**short_timeouts())
    mine = Job.objects.filter(job_type__name="durable")
    wait_for(lambda: mine.filter(status=Status.SUCCEEDED).count() == 30, timeout=90, message="jobs lost")
    for job in mine:
        outcomes = list(Attempt.objects.filter(job=job).values_list("outcome", flat=True))
        assert outcomes.count("succeeded") == 1, outcomes
        assert set(outcomes) <= {"succeeded", "crashed", "timed_out"}, outcomes  # cut by the kill
