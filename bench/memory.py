"""Memory (side B): resident memory of the whole cluster idle and with N async jobs in flight.

Runs inside a Django process on bench.settings_ours (started by bench.probe). The cluster is
the qcluster main process and all its descendants (sentinel, pusher, monitor, workers). Its
unit size (ASYNC_CONCURRENCY) is set to N / workers so that all N jobs can be in flight at
once. "Idle" is measured after a warm-up (a no-op job and one small async unit per worker
have run, so the lazily imported HTTP and event-loop modules are loaded) and one quiet
second; "in flight" when the delay server holds all N requests at once (each job's request
is held until the harness releases them all, or `hold_ms` at most). RSS is summed from
/proc/<pid>/status (VmRSS, counting shared pages once per process); PSS (shared pages split
between the processes that share them) from /proc/<pid>/smaps_rollup, where readable.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from bench import delayserver, iobound, ours
from bench.clusters import Cluster
from bench.measure import Incomplete, wait_until
from jobqueue import enqueue, enqueue_many
from jobqueue.models import Job, Status

ASYNC_TYPE = "bench_io_async"


def _kib(path: str, field: str) -> int | None:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def footprint(cluster: Cluster) -> dict[str, Any]:
    """RSS and PSS in MiB summed over the cluster's processes, and how many processes."""
    pids = [cluster.proc.pid, *cluster.descendants()]
    rss = [_kib(f"/proc/{pid}/status", "VmRSS") for pid in pids]
    pss = [_kib(f"/proc/{pid}/smaps_rollup", "Pss") for pid in pids]
    return {
        "processes": len(pids),
        "rss_mib": sum(v for v in rss if v) / 1024,
        "pss_mib": sum(v for v in pss if v) / 1024 if all(v is not None for v in pss) else None,
    }


def run(jobs: int, workers: int, server: str, hold_ms: int, log: str, timeout: float) -> dict[str, Any]:
    ours.reset()
    concurrency = math.ceil(jobs / workers)
    result: dict[str, Any] = {"in_flight_wanted": jobs, "hold_ms": hold_ms, "async_concurrency": concurrency}
    cluster = Cluster(Path(log), workers, BENCH_ASYNC_CONCURRENCY=str(concurrency))
    try:
        enqueue(ours.TYPE)
        enqueue_many([{"type": ASYNC_TYPE, "payload": {"url": iobound.delay_url(server, 10)}}] * (2 * workers))
        wait_until(
            lambda: ours.succeeded() + ours.succeeded(ASYNC_TYPE) >= 1 + 2 * workers or not cluster.alive(),
            timeout,
            0.05,
            "the cluster did not run its warm-up jobs",
        )
        time.sleep(1.0)
        result["idle"] = footprint(cluster)
        delayserver.call(server, "/reset")
        held = iobound.delay_url(server, hold_ms) + "&hold=1"
        enqueue_many([{"type": ASYNC_TYPE, "payload": {"url": held}}] * jobs)
        try:
            wait_until(
                lambda: delayserver.stats(server)["active"] >= jobs or not cluster.alive(),
                min(timeout, hold_ms / 1000),
                0.02,
                f"the {jobs} async jobs were never all in flight at once",
            )
            result["in_flight"] = footprint(cluster)
            result["in_flight_requests"] = delayserver.stats(server)["active"]  # still held: measured after
            running = Job.objects.filter(job_type__name=ASYNC_TYPE, status=Status.RUNNING).count()
            result["in_flight_running_jobs"] = running
        finally:
            delayserver.call(server, "/release")
        done = 2 * workers + jobs
        wait_until(lambda: ours.succeeded(ASYNC_TYPE) >= done or not cluster.alive(), timeout, 0.1, "jobs left over")
        result["drain_completed"] = ours.succeeded(ASYNC_TYPE) - 2 * workers
        result["drain_queued"] = jobs
    finally:
        cluster.stop()
    if result["in_flight_requests"] < jobs or result["drain_completed"] != jobs:
        raise Incomplete(
            f"memory: {result['in_flight_requests']} of {jobs} requests in flight at once, "
            f"{result['drain_completed']} jobs succeeded"
        )
    result["rss_ratio"] = result["in_flight"]["rss_mib"] / result["idle"]["rss_mib"]
    if result["idle"]["pss_mib"] and result["in_flight"]["pss_mib"]:
        result["pss_ratio"] = result["in_flight"]["pss_mib"] / result["idle"]["pss_mib"]
    return result
