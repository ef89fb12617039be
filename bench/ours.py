"""Side B, this product: enqueue rates, drain and latency of the no-op job type through a real cluster.

Runs inside a Django process on bench.settings_ours (started by bench.probe).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.db import connection
from django.db.models import Max, Min, QuerySet

from bench.clusters import Cluster
from bench.measure import Incomplete, latency_summary, millis, rate, wait_until
from jobqueue import enqueue, enqueue_many
from jobqueue.models import Attempt, Job, Outcome, Status

TYPE = "bench_noop"
TABLES = (
    "jobqueue_attempt",
    "jobqueue_deadletter",
    "jobqueue_uniquelock",
    "jobqueue_ratelimitstart",
    "jobqueue_schedulestate",
    "jobqueue_job",
    "jobqueue_clusterheartbeat",
)


def reset() -> None:
    """Empty the queue and its history (job type records stay)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # CASCADE: any table added later that points at jobs must not break the reset.
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        else:
            for table in TABLES:
                cursor.execute(f"DELETE FROM {table}")


def enqueue_single(count: int) -> float:
    """Jobs per second, one `enqueue` per job in autocommit (one transaction each)."""
    began = time.perf_counter()
    for _ in range(count):
        enqueue(TYPE)
    return count / (time.perf_counter() - began)


def enqueue_bulk(count: int, batch: int = 500) -> float:
    """Jobs per second through `enqueue_many`, `batch` jobs per call (one transaction each)."""
    items = [{"type": TYPE}] * batch
    began = time.perf_counter()
    done = 0
    while done < count:
        size = min(batch, count - done)
        enqueue_many(items[:size])
        done += size
    return count / (time.perf_counter() - began)


def bench_attempts(type_name: str = TYPE) -> QuerySet[Attempt]:
    """Attempts of the bench's own type only.

    The cluster also runs the product's built-in schedules (the metrics rollup every minute,
    the retention prune): they are part of what side B costs, but they are not bench jobs
    and must not be counted as drained ones.
    """
    return Attempt.objects.filter(job__job_type__name=type_name)


def succeeded(type_name: str = TYPE) -> int:
    return bench_attempts(type_name).filter(outcome=Outcome.SUCCEEDED).count()


def drain_window(count: int, type_name: str = TYPE) -> dict[str, Any]:
    """Throughput of the first `count` attempts, from the DB's own timestamps."""
    attempts = bench_attempts(type_name)
    finishes = list(attempts.order_by("finished_at").values_list("finished_at", flat=True)[:count])
    first_start = attempts.aggregate(first=Min("started_at"))["first"]
    return {
        "drain_per_s": rate(len(finishes), first_start, finishes[-1]),
        # The same window as side A's finish-to-finish figure, for a like-for-like check.
        "drain_finish_to_finish_per_s": rate(len(finishes) - 1, finishes[0], finishes[-1]),
        "drain_seconds": (finishes[-1] - first_start).total_seconds(),
        # The window in epoch seconds, for the machine's CPU over it (bench.race).
        "window": [first_start.timestamp(), finishes[-1].timestamp()],
    }


def latency(cluster: Cluster, count: int, interval: float, timeout: float) -> dict[str, Any]:
    """Jobs enqueued one at a time `interval` apart into the idle, running cluster."""
    ids = []
    for _ in range(count):
        ids.append(enqueue(TYPE).pk)
        time.sleep(interval)
    wait_until(
        lambda: Job.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count() == count or not cluster.alive(),
        timeout,
        what="latency jobs not all finished",
    )
    rows = list(
        Job.objects.filter(pk__in=ids, status=Status.SUCCEEDED).values_list("created_at", "started_at", "finished_at")
    )
    if len(rows) != count:
        raise Incomplete(f"latency: {len(rows)} of {count} jobs finished (cluster alive: {cluster.alive()})")
    result = latency_summary([millis(c, s) for c, s, _ in rows], [millis(c, f) for c, _, f in rows])
    result["latency_completed"] = len(rows)
    return result


def run(jobs: int, workers: int, latency_jobs: int, interval: float, log: str, timeout: float) -> dict[str, Any]:
    """One repetition of side B: bulk and single enqueue, drain of `jobs`, then latency."""
    reset()
    result: dict[str, Any] = {"bulk_enqueue_per_s": enqueue_bulk(jobs)}
    reset()
    result["single_enqueue_per_s"] = enqueue_single(jobs)
    cluster = Cluster(Path(log), workers)
    try:
        wait_until(lambda: succeeded() >= jobs or not cluster.alive(), timeout, 0.1, "drain did not finish")
        result["drain_completed"] = succeeded()
        result["drain_queued"] = jobs
        if result["drain_completed"] != jobs:
            raise Incomplete(f"drain: {result['drain_completed']} of {jobs} jobs completed")
        result.update(drain_window(jobs))
        if latency_jobs:
            result.update(latency(cluster, latency_jobs, interval, timeout))
    finally:
        cluster.stop()
    result["last_finish"] = str(bench_attempts().aggregate(last=Max("finished_at"))["last"])
    return result
