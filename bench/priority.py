"""Priority under load (side B): CRITICAL jobs enqueued one by one while a no-op backlog drains.

Runs inside a Django process on bench.settings_ours (started by bench.probe). The backlog is
queued with `enqueue_many` before the cluster starts; the harness watches the backlog still
queued and enqueues the CRITICAL jobs one by one as it falls past evenly spaced marks (from
11/12 to 2/12 of it for ten jobs), so they are spread over the drain whatever its speed and
each one is enqueued behind a backlog. Outcomes and claims come in units, so on a short
drain (the smoke run's) several marks may pass at once. Each one's enqueue-to-start is its Attempt's
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
        backlog = Job.objects.filter(job_type__name=ours.TYPE, status=Status.QUEUED, priority__lt=Priority.CRITICAL)
        deadline = time.monotonic() + timeout
        for index in range(critical):
            # Evenly spaced marks on the backlog still queued, from (n+1)/(n+2) down to 2/(n+2)
            # of it: each CRITICAL job is enqueued behind a backlog, spread over the drain.
            mark = jobs * (critical - index) // (critical + 2)
            while (left := backlog.count()) > mark and cluster.alive() and time.monotonic() < deadline:
                time.sleep(0.005)
            behind.append(left)
            ids.append(str(enqueue(ours.TYPE, priority=Priority.CRITICAL).pk))
        total = jobs + critical
        wait_until(lambda: ours.succeeded() >= total or not cluster.alive(), timeout, 0.1, "drain did not finish")
        result["drain_completed"] = ours.succeeded()
    finally:
        cluster.stop()
    if result["drain_completed"] != result["drain_queued"]:
        raise Incomplete(f"priority: {result['drain_completed']} of {result['drain_queued']} jobs succeeded")
    rows = list(
        Attempt.objects.filter(job_id__in=ids, number=1).values_list("job__created_at", "job__claimed_at", "started_at")
    )
    if len(rows) != critical:
        raise Incomplete(f"priority: {len(rows)} of {critical} CRITICAL jobs have an attempt")
    waits = [millis(created, started) for created, _, started in rows if started is not None]
    # Where the wait went: from enqueue to the claim, and from the claim to a worker's start.
    to_claim = [millis(created, claimed) for created, claimed, _ in rows if claimed is not None]
    to_start = [millis(claimed, started) for _, claimed, started in rows if claimed and started]
    result.update(
        critical_claim_p50_ms=percentile(to_claim, 0.5),
        critical_claim_p95_ms=percentile(to_claim, 0.95),
        critical_claimed_to_start_p95_ms=percentile(to_start, 0.95),
        critical_waits_ms=[round(w, 1) for w in waits],
        critical_claim_waits_ms=[round(w, 1) for w in to_claim],
        critical_start_p50_ms=percentile(waits, 0.5),
        critical_start_p95_ms=percentile(waits, 0.95),
        critical_start_max_ms=max(waits),
        queued_behind_min=min(behind),
        queued_behind=behind,
    )
    return result
