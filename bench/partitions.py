"""Workflows and partitions, side B only: fan-in latency, the partitioned claim's cost, fairness.

`python -m bench.partitions --database-url URL` (a database of its own: the run empties its
queue tables) runs three cases, each at the sizes given (defaults small; the issue's sizes are
`--fanout 10000 --ready 1000000 --partitions 10000 --big 10000`):

1. fan-in: a workflow of `--fanout` no-op jobs and one job after all of them, drained by a
   real cluster, `--fanin-reps` times: the chord's start minus its last dependency's finish
   (p50 / p95 over the repetitions);
2. claims: `--ready` ready jobs over `--partitions` partition values (and their
   `PartitionTurn` rows, as enqueue writes them), against the same number of ready jobs of an
   unpartitioned type: milliseconds per claim of `Q_BULK` jobs (p50 each side) and the ratio
   of the rates;
3. fairness: `--big` jobs of one partition value enqueued first, then `--small` each of
   `--small-partitions` others, drained by one cluster: when the last small partition's last
   job starts, counted in the big partition's starts before it (the target: before its 100th).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.partitions", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a database for the bench alone (emptied)")
    parser.add_argument("--cases", default="fanin,claims,fairness")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fanout", type=int, default=100)
    parser.add_argument("--fanin-reps", type=int, default=5)
    parser.add_argument("--ready", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--claims", type=int, default=30, help="claims timed per side")
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--small-partitions", type=int, default=9)
    parser.add_argument("--log", default="/tmp/bench-partitions.log")  # noqa: S108 - a bench log
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    from bench.databases import django_env

    # The clusters inherit this environment: side B's settings, this database, quiet logs.
    os.environ.update(django_env("ours", args.database_url, JOBQUEUE_JOBQUEUE_ROLLUP_SCHEDULE="off"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from jobqueue.models import JobType
    from jobqueue.services import sync_job_types, update_job_type

    sync_job_types()
    update_job_type(JobType.objects.get(name="bench_partitioned"), {"enabled": True})
    results: dict[str, Any] = {"database": args.database_url.split(":", 1)[0]}
    cases = set(args.cases.split(","))
    if "fanin" in cases:
        results["fanin"] = fanin(args.fanout, args.fanin_reps, args.workers, args.log, args.timeout)
    if "claims" in cases:
        results["claims"] = claims(args.ready, args.partitions, args.claims)
    if "fairness" in cases:
        results["fairness"] = fairness(args.big, args.small, args.small_partitions, args.log, args.timeout)
    print(json.dumps(results, indent=2, default=str))
    return 0


def _reset() -> None:
    from django.db import connection

    from bench.ours import reset

    with connection.cursor() as cursor:
        # Before the jobs: the edges point at them.
        cursor.execute("DELETE FROM jobqueue_dependency")
        cursor.execute("DELETE FROM jobqueue_partitionturn")
    reset()


def fanin(fanout: int, reps: int, workers: int, log: str, timeout: float) -> dict[str, Any]:
    """Case 1 (see the module docstring)."""
    from django.db.models import Max

    from bench.clusters import Cluster
    from bench.measure import millis, percentile, wait_until
    from jobqueue import Workflow
    from jobqueue.models import Job, Status

    _reset()
    waits = []
    cluster = Cluster(Path(log), workers)
    try:
        for _ in range(reps):
            flow = Workflow()
            steps = [flow.add("bench_noop", key=f"leaf-{i}") for i in range(fanout)]
            chord = flow.add("bench_noop", after=steps, key="chord")
            began = time.monotonic()
            flow.enqueue()
            assert chord.job is not None
            done = Job.objects.filter(pk=chord.job.pk, status=Status.SUCCEEDED)
            wait_until(lambda done=done: done.exists() or not cluster.alive(), timeout, 0.05, "the chord did not run")
            last = Job.objects.filter(dependents__job_id=chord.job.pk).aggregate(at=Max("finished_at"))["at"]
            started = Job.objects.get(pk=chord.job.pk).started_at
            waits.append(millis(last, started))
            waits_drain = time.monotonic() - began
    finally:
        cluster.stop()
    return {
        "fanout": fanout,
        "reps": reps,
        "chord_start_after_last_dependency_ms": [round(w, 1) for w in waits],
        "p50_ms": percentile(waits, 0.5),
        "p95_ms": percentile(waits, 0.95),
        "last_workflow_seconds": round(waits_drain, 2),
    }


def claims(ready: int, partitions: int, count: int) -> dict[str, Any]:
    """Case 2 (see the module docstring)."""
    from django.db import connection
    from django_q.conf import Conf

    from bench.growth import _ids_sql
    from bench.measure import percentile
    from jobqueue.engine.claim import claim
    from jobqueue.models import Job, JobType, Status

    out: dict[str, Any] = {"ready": ready, "partitions": partitions, "bulk": int(Conf.BULK)}
    for name, keyed in (("bench_noop", False), ("bench_partitioned", True)):
        _reset()
        type_id = JobType.objects.get(name=name).pk
        pg = connection.vendor == "postgresql"
        key = "'p' || (n %% %s)" if keyed else "''"
        ids = [int(time.time() * 1000), 0]
        select = (
            f"SELECT {_ids_sql(pg)}, %s, '{{}}', 0, 'queued', 0, 1, {'now()' if pg else 'CURRENT_TIMESTAMP'}, "
            f"{'now()' if pg else 'CURRENT_TIMESTAMP'}, '', '', '', '', '', {key}"
        )
        columns = (
            "id, job_type_id, payload, priority, status, attempts, max_attempts, run_after, created_at, "
            "claimed_by, worker, last_error, progress_message, created_by, partition_key"
        )
        params = [*ids, type_id, *([partitions] if keyed else [])]
        side = "partitioned" if keyed else "unpartitioned"
        filled = time.monotonic()
        if connection.vendor == "mysql":
            _enqueue_ready(name, ready, partitions if keyed else 0)
        else:
            _insert_ready(columns, select, params, ready, pg, keyed, type_id)
        if pg:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE jobqueue_job")
                cursor.execute("ANALYZE jobqueue_partitionturn")
        out[f"{side}_insert_seconds"] = round(time.monotonic() - filled, 1)
        times = []
        for _ in range(count):
            began = time.perf_counter()
            claim(int(Conf.BULK), "bench-partitions")
            times.append((time.perf_counter() - began) * 1000)
        out[f"{side}_claim_p50_ms"] = percentile(times, 0.5)
        out[f"{side}_claim_p95_ms"] = percentile(times, 0.95)
        Job.objects.filter(claimed_by="bench-partitions").update(status=Status.QUEUED)
    plain, fair = out["unpartitioned_claim_p50_ms"], out["partitioned_claim_p50_ms"]
    out["rate_ratio"] = round(plain / fair, 3) if plain and fair else None
    return out


def _insert_ready(
    columns: str, select: str, params: list[Any], ready: int, pg: bool, keyed: bool, type_id: int
) -> None:
    """PostgreSQL and SQLite: the ready jobs by one INSERT ... SELECT, then their values' turns,
    as enqueue writes them (engine.turns.fill): never served."""
    from django.db import connection, transaction

    from jobqueue.engine import sql
    from jobqueue.models.partitions import NEVER_SERVED

    with transaction.atomic(), connection.cursor() as cursor:
        if pg:
            cursor.execute(
                f"INSERT INTO jobqueue_job ({columns}) {select} FROM generate_series(1, %s) AS n", [*params, ready]
            )
        else:
            cursor.execute(
                "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %s) "
                f"INSERT INTO jobqueue_job ({columns}) {select} FROM g",
                [ready, *params],
            )
        if keyed:
            cursor.execute(
                "INSERT INTO jobqueue_partitionturn (job_type_id, partition_key, served_at, fills) "
                "SELECT DISTINCT job_type_id, partition_key, %s, 1 FROM jobqueue_job WHERE job_type_id = %s",
                [sql.when(NEVER_SERVED), type_id],
            )


def _enqueue_ready(name: str, ready: int, partitions: int) -> None:
    """MariaDB / MySQL: the ready jobs by `enqueue_many`, 5,000 a call (slower; smaller sizes)."""
    from jobqueue import enqueue_many

    for start in range(0, ready, 5000):
        enqueue_many(
            [
                {"type": name, "payload": {"p": f"p{n % partitions}"} if partitions else {}}
                for n in range(start, min(ready, start + 5000))
            ]
        )


def fairness(big: int, small: int, small_partitions: int, log: str, timeout: float) -> dict[str, Any]:
    """Case 3 (see the module docstring). One cluster of one worker: starts in claim order."""
    from bench.clusters import Cluster
    from bench.measure import wait_until
    from jobqueue import enqueue_many
    from jobqueue.models import Job, Status

    _reset()
    enqueue_many([{"type": "bench_partitioned", "payload": {"p": "big"}}] * big)
    others = [f"small-{i}" for i in range(small_partitions)]
    enqueue_many([{"type": "bench_partitioned", "payload": {"p": p}} for p in others for _ in range(small)])
    total = big + small * small_partitions
    jobs = Job.objects.filter(job_type__name="bench_partitioned")
    cluster = Cluster(Path(log), 1)
    try:
        wait_until(
            lambda: jobs.filter(status=Status.SUCCEEDED).count() >= total or not cluster.alive(),
            timeout,
            0.2,
            "the fairness drain did not finish",
        )
    finally:
        cluster.stop()
    last_small = max(jobs.exclude(partition_key="big").values_list("started_at", flat=True))
    big_before = jobs.filter(partition_key="big", started_at__lt=last_small).count()
    return {
        "big": big,
        "small": small,
        "small_partitions": small_partitions,
        "big_started_before_last_small": big_before,
        "target_met": big_before < 100,
    }


if __name__ == "__main__":
    raise SystemExit(main())
