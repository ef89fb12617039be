"""Priority under load (side B): CRITICAL jobs enqueued one by one while a no-op backlog drains.

Runs inside a Django process on bench.settings_ours (started by bench.probe). The backlog is
queued with `enqueue_many` before the cluster starts. Once a first slice of it has finished,
the harness enqueues the CRITICAL jobs one by one, after each one sleeping the time left
(estimated from the rate since the previous step) divided among those still to come, so they
are spread over the drain whatever its speed. Each one's enqueue-to-start is its Attempt's
`started_at` minus its Job's `created_at`; the backlog still queued at its enqueue is kept,
to show it really waited behind one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench import ours
from bench.clusters import Cluster
from bench.measure import Incomplete, millis, percentile, wait_until
from jobqueue import Priority, enqueue, enqueue_many
from jobqueue.models import Attempt, Job, Status


def run(jobs: int, critical: int, workers: int, log: str, timeout: float) -> dict[str, Any]:
    ours.reset()
    enqueue_many([{"type": ours.TYPE}] * jobs)
    result: dict[str, Any] = {"drain_queued": jobs + critical, "critical": critical}
    ids: list[str] = []
    behind: list[int] = []
    cluster = Cluster(Path(log), workers)
    try:
        wait_until(lambda: ours.succeeded() > 0 or not cluster.alive(), timeout, 0.005, "the drain did not start")
        started = began = time.monotonic()
        done = 0
        first_slice = max(1, jobs // (critical + 2))
        wait_until(lambda: ours.succeeded() >= first_slice or not cluster.alive(), timeout, 0.01, "no progress")
        gaps = []
        for index in range(critical):
            # The time left, from the rate since the last step (a new cluster speeds up as the
            # chunks grow) or since the start if higher (outcomes are written in groups, so one
            # step may see none), shared among the CRITICAL jobs still to come.
            now, finished = time.monotonic(), ours.succeeded()
            per_second = max((finished - done) / max(now - began, 0.001), max(finished, 1) / (now - started))
            began, done = now, finished
            gaps.append(max(jobs - finished, 0) / per_second / (critical - index + 1))
            queued = Job.objects.filter(job_type__name=ours.TYPE, status=Status.QUEUED).exclude(pk__in=ids)
            behind.append(queued.count())
            ids.append(str(enqueue(ours.TYPE, priority=Priority.CRITICAL).pk))
            time.sleep(gaps[-1])
        result["critical_gaps_ms"] = [round(gap * 1000, 1) for gap in gaps]
        total = jobs + critical
        wait_until(lambda: ours.succeeded() >= total or not cluster.alive(), timeout, 0.1, "drain did not finish")
        result["drain_completed"] = ours.succeeded()
    finally:
        cluster.stop()
    if result["drain_completed"] != result["drain_queued"]:
        raise Incomplete(f"priority: {result['drain_completed']} of {result['drain_queued']} jobs succeeded")
    rows = list(Attempt.objects.filter(job_id__in=ids, number=1).values_list("job__created_at", "started_at"))
    if len(rows) != critical:
        raise Incomplete(f"priority: {len(rows)} of {critical} CRITICAL jobs have an attempt")
    waits = [millis(created, started) for created, started in rows if started is not None]
    result.update(
        critical_start_p50_ms=percentile(waits, 0.5),
        critical_start_p95_ms=percentile(waits, 0.95),
        critical_start_max_ms=max(waits),
        queued_behind_min=min(behind),
        queued_behind=behind,
    )
    return result
