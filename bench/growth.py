"""Growth, side B only: drain throughput and claim time with a large backlog or a large history.

The rows are built with one INSERT ... SELECT each (generate_series on PostgreSQL, a recursive
CTE on SQLite), so a million jobs take seconds, not an hour of enqueue calls. Runs inside a
Django process on bench.settings_ours (started by bench.probe).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_q.conf import Conf

from bench.clusters import Cluster
from bench.measure import Incomplete, percentile, rate, wait_until
from bench.ours import TYPE, reset
from jobqueue.engine.claim import claim
from jobqueue.models import Job, JobType, Status
from jobqueue.services import sync_job_types

# Small setups are rebuilt for every repetition; big ones are built once and topped up.
REBUILD_UP_TO = 100_000
CLAIMER = "bench-claim-timer"
_made = 0  # rows made so far in this process: the next build's ids follow on


def _ids_sql(pg: bool) -> str:
    """Time-ordered ids, as `enqueue` makes them (UUIDv7: 48 bits of milliseconds first): the
    build's moment in milliseconds, then the row's number. Random ids would scatter a drain
    over the whole table, which no real queue does."""
    if pg:
        return "(lpad(to_hex(%s::bigint), 12, '0') || '7' || lpad(to_hex(%s::bigint + n), 19, '0'))::uuid"
    return "printf('%%012x7%%019x', %s, %s + n)"


def _rows_sql(count: int, status: str, finished: bool) -> tuple[str, list[Any]]:
    type_id = JobType.objects.get(name=TYPE).pk
    at = timezone.now() - timedelta(hours=1)
    stamp = connection.ops.adapt_datetimefield_value(at)
    done = stamp if finished else None
    columns = (
        "id, job_type_id, payload, priority, status, attempts, max_attempts, run_after, created_at, "
        "started_at, finished_at, claimed_by, worker, last_error, progress_message, created_by"
    )
    values = "%s, '{}', 0, %s, %s, 1, %s, %s, %s, %s, '', '', '', '', ''"
    params = [type_id, status, 1 if finished else 0, stamp, stamp, done, done]
    global _made
    ids = [int(time.time() * 1000), _made]
    _made += count
    pg = connection.vendor == "postgresql"
    if pg:
        sql = f"INSERT INTO jobqueue_job ({columns}) SELECT {_ids_sql(pg)}, {values} FROM generate_series(1, %s) AS n"
        return sql, [*ids, *params, count]
    sql = (
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %s) "
        f"INSERT INTO jobqueue_job ({columns}) SELECT {_ids_sql(pg)}, {values} FROM g"
    )
    return sql, [count, *ids, *params]


def build(ready: int, history: int) -> float:
    """Insert `history` finished jobs (each with its attempt) and `ready` queued ones; seconds taken."""
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if history:
            cursor.execute(*_rows_sql(history, Status.SUCCEEDED.value, finished=True))
            logs = "'[]'::jsonb" if connection.vendor == "postgresql" else "'[]'"
            cursor.execute(
                "INSERT INTO jobqueue_attempt (job_id, number, cluster, host, pid, started_at, finished_at, "
                f"duration_ms, outcome, error_type, error_message, traceback, logs) SELECT id, 1, '', '', NULL, "
                f"started_at, finished_at, 0, 'succeeded', '', '', '', {logs} FROM jobqueue_job WHERE status = %s",
                [Status.SUCCEEDED.value],
            )
        if ready:
            cursor.execute(*_rows_sql(ready, Status.QUEUED.value, finished=False))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE jobqueue_job")
            cursor.execute("ANALYZE jobqueue_attempt")
    return time.perf_counter() - began


def time_claims(count: int) -> list[float]:
    """Milliseconds per claim (one `bulk` of jobs each) against the table as built; then undone."""
    times = []
    for _ in range(count):
        began = time.perf_counter()
        claim(int(Conf.BULK), CLAIMER)
        times.append((time.perf_counter() - began) * 1000)
    Job.objects.filter(claimed_by=CLAIMER).update(
        status=Status.QUEUED, attempts=0, claimed_by="", lease_expires_at=None
    )
    return times


def finished_since(moment: datetime) -> QuerySet[Job]:
    """Bench jobs finished since `moment` (the cluster's built-in schedules run too; not counted).

    The finished_at index keeps this cheap even with a million finished jobs in history.
    """
    return Job.objects.filter(finished_at__gte=moment, job_type__name=TYPE)


def drain(jobs: int, workers: int, log: str, timeout: float) -> dict[str, Any]:
    """Start a cluster on the table as built; throughput of its first `jobs` jobs."""
    opened = timezone.now()
    cluster = Cluster(Path(log), workers)
    try:
        wait_until(
            lambda: finished_since(opened).count() >= jobs or not cluster.alive(), timeout, 0.25, "drain unfinished"
        )
    finally:
        cluster.stop()
    rows = list(
        finished_since(opened).order_by("finished_at").values_list("status", "started_at", "finished_at")[:jobs]
    )
    if len(rows) < jobs or any(status != Status.SUCCEEDED for status, _, _ in rows):
        raise Incomplete(f"growth drain: {len(rows)} of {jobs} jobs finished")
    first = min(started for _, started, _ in rows)
    return {"drain_per_s": rate(jobs, first, rows[-1][2]), "drain_completed": len(rows), "drain_queued": jobs}


def run(
    ready: int, history: int, jobs: int, reps: int, workers: int, log: str, timeout: float, claims: int = 50
) -> dict[str, Any]:
    """`reps` repetitions of: claim timing, then a drain of `jobs` jobs, on the given table."""
    sync_job_types()
    outcomes = []
    built_seconds = None
    for rep in range(reps):
        if rep == 0 or ready + history <= REBUILD_UP_TO:
            reset()
            built_seconds = build(ready, history)
        else:
            build(jobs, 0)  # top the backlog up by what the last drain took
        timings = time_claims(claims)
        result = drain(jobs, workers, f"{log}.{rep}", timeout)
        result.update(claim_p50_ms=percentile(timings, 0.5), claim_p95_ms=percentile(timings, 0.95))
        outcomes.append(result)
    return {"reps": outcomes, "build_seconds": built_seconds, "ready": ready, "history": history}
