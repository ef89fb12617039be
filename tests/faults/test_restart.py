"""The database server restarted while two clusters drain 2,000 jobs of 20 ms: every job finishes
within 60 s of the server accepting connections again, with at most one re-run per attempt the
restart cut. The clusters run with the test settings' own timeouts (not the suite's short ones):
a claim whose outcome the restart made unknown must come back in seconds, not when a long lease
runs out."""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_for
from tests.faults.conftest import FaultStage, cluster_env

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

JOBS = 2000
BOUND = 60
# In flight when the server went away: per cluster, its workers' attempts, its local queue and
# one claim batch (2 + 2 + 2), and the outcomes its monitor had not written yet.
CUT_LIMIT = 2 * 6


def test_server_restart_mid_drain_loses_no_job(stage: FaultStage) -> None:
    stage.env = cluster_env(stage.url, short=False)
    stage.enqueue("durable", JOBS, ledger=str(stage.ledger), sleep=0.02)
    stage.start_cluster()
    stage.start_cluster()
    wait_for(lambda: stage.count("durable", "succeeded") >= 300, timeout=90)

    stage.server.restart()  # returns once the server accepts connections again
    back = time.time()
    try:
        wait_for(lambda: stage.count("durable", "succeeded") == JOBS, timeout=BOUND, interval=0.5)
    except AssertionError:
        tally = stage.tally("durable")
        stuck = stage.query(
            "SELECT status, started_at IS NULL, count(*) FROM jobqueue_job WHERE status <> 'succeeded' GROUP BY 1, 2"
        )
        raise AssertionError(f"not all jobs finished {BOUND} s after the restart: {tally.statuses}, {stuck}") from None
    tally = stage.tally("durable")
    tally.check(JOBS, CUT_LIMIT)
    assert tally.last_finish is not None
    assert tally.last_finish - back < BOUND
    assert all(cluster.proc.poll() is None for cluster in stage.clusters)  # both survived
