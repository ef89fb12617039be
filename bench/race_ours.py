"""Our side of the PostgreSQL race (`bench.race`): one drain of a job type, queued before the cluster starts.

Runs inside a Django process on bench.settings_ours (started by bench.probe, kind `race_ours`).
The rate runs from the first attempt's start to the last one's finish (Attempt rows): the
window the race takes for every peer too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import ours
from bench.clusters import Cluster
from bench.measure import Incomplete, wait_until
from jobqueue import enqueue_many


def run(jobs: int, workers: int, type_name: str, payload: dict[str, Any], log: str, timeout: float) -> dict[str, Any]:
    ours.reset()
    enqueue_many([{"type": type_name, "payload": payload}] * jobs)
    result: dict[str, Any] = {"type": type_name, "drain_queued": jobs}
    cluster = Cluster(Path(log), workers)
    try:
        wait_until(
            lambda: ours.succeeded(type_name) >= jobs or not cluster.alive(),
            timeout,
            0.1,
            f"race drain of {type_name} did not finish",
        )
        result["drain_completed"] = ours.succeeded(type_name)
        if result["drain_completed"] != jobs:
            raise Incomplete(f"race drain: {result['drain_completed']} of {jobs} {type_name} jobs succeeded")
        result.update(ours.drain_window(jobs, type_name))
    finally:
        cluster.stop()
    return result
