"""Faults of the cluster's processes: its main process SIGKILLed (no orphans may stay), and a
whole cluster SIGKILLed then replaced (no job lost). Two real clusters drain meanwhile."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.conftest import wait_for
from tests.faults.conftest import FaultStage, wait_gone
from tests.faults.settings import FAULT_TIMEOUT

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

JOBS = 400
# A killed cluster held at most its workers' attempts, its local queue and one claim batch
# (Q_WORKERS 2, Q_QUEUE_LIMIT 2, Q_BULK 2): the attempts a fault may cut.
CUT_LIMIT = 6
# A cut attempt comes back when its lease runs out (the longest timeout plus LEASE_GRACE)
# and the reclaimer's next round finds it; the rest is the drain itself.
RECOVERY_BOUND = FAULT_TIMEOUT + 2 + 25


def started_jobs(stage: FaultStage) -> int:
    if not stage.ledger.exists():
        return 0
    return sum(1 for line in stage.ledger.read_text().splitlines() if line.startswith("start"))


def test_main_process_sigkill_leaves_no_orphans(stage: FaultStage) -> None:
    stage.enqueue("durable", JOBS, ledger=str(stage.ledger), sleep=0.05)
    doomed = stage.start_cluster()
    stage.start_cluster()
    wait_for(lambda: started_jobs(stage) >= 40, timeout=60)
    family = stage.family(doomed)
    assert len(family) >= 4  # sentinel, pusher, monitor and two workers

    os.kill(doomed.proc.pid, signal.SIGKILL)
    killed_at = time.time()
    doomed.proc.wait(5)
    took = wait_gone(family, timeout=5)
    seen = len(stage.ledger.read_text().splitlines())
    time.sleep(1)
    # None of the dead cluster's processes may write to the ledger once it is gone.
    ledger_pids = {int(line.split()[4]) for line in stage.ledger.read_text().splitlines()[seen:]}
    assert not ledger_pids & set(family)

    stage.start_cluster()  # the replacement an operator (or a supervisor) starts
    wait_for(
        lambda: stage.count("durable", "succeeded") == JOBS,
        timeout=RECOVERY_BOUND + 30,
        message=f"not all jobs finished: {stage.tally('durable').statuses}",
    )
    tally = stage.tally("durable")
    tally.check(JOBS, CUT_LIMIT)
    assert tally.last_finish is not None
    assert tally.last_finish - killed_at < RECOVERY_BOUND
    print(f"orphans gone {took:.2f} s after the kill; last job finished {tally.last_finish - killed_at:.1f} s after")


def test_whole_cluster_sigkill_then_replacement_loses_no_job(stage: FaultStage) -> None:
    stage.enqueue("durable", JOBS, ledger=str(stage.ledger), sleep=0.05)
    doomed = stage.start_cluster()
    survivor = stage.start_cluster()
    wait_for(lambda: started_jobs(stage) >= 40, timeout=60)

    everything = [doomed.proc.pid, *stage.family(doomed)]
    for pid in everything:
        os.kill(pid, signal.SIGKILL)
    killed_at = time.time()
    doomed.proc.wait(5)
    wait_gone(everything, timeout=5)
    stage.start_cluster()

    wait_for(
        lambda: stage.count("durable", "succeeded") == JOBS,
        timeout=RECOVERY_BOUND + 30,
        message=f"not all jobs finished: {stage.tally('durable').statuses}",
    )
    tally = stage.tally("durable")
    tally.check(JOBS, CUT_LIMIT)
    assert tally.last_finish is not None
    assert tally.last_finish - killed_at < RECOVERY_BOUND
    assert survivor.proc.poll() is None
    # Two clusters of 2 workers: one persistent connection per worker, the pusher and its
    # LISTEN connection each (no pool in cluster processes; the main process and the sentinel
    # hold none), and this query's own.
    connections = stage.query("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", stage.name)[0][0]
    assert connections <= 2 * (2 + 2) + 1, connections
