"""Time the dashboard's metrics queries over a history of 1,000,000 attempts.

    .venv/bin/python bench/metrics_bench.py                        # SQLite, bench/results/metrics.sqlite3
    .venv/bin/python bench/metrics_bench.py --database-url postgres://postgres@127.0.0.1:5432/jq_metrics_bench

Seeds (once per database, with INSERT ... SELECT over a generated series) N jobs and N attempts
spread evenly over 30 days across the registered job types, 2 % of them dead-lettered, plus a
few thousand ready jobs; rolls the history up into per-minute metrics (timed on its own: the
`jobqueue_rollup` job type does it in the background, a minute at a time); then times
`metrics.snapshot()` and `health.evaluate()` for each window. `--explain` prints the plan of
every query of one snapshot. A script, never a timed test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPAN_SECONDS = 30 * 24 * 3600
READY_JOBS = 2_000


def create_postgres_database(database_url: str) -> None:
    """Create the benchmark's PostgreSQL database if it does not exist yet."""
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(scheme="postgresql", path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup(database_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "metrics-bench-only")
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2gtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleTA=")  # bench only
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def seed(count: int) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from jobqueue.models import Attempt, JobType

    call_command("migrate", verbosity=0)
    if Attempt.objects.count() >= count:
        print(f"already seeded: {Attempt.objects.count():,} attempts")
        return
    type_ids = list(JobType.objects.values_list("pk", flat=True))
    if not type_ids:
        sys.exit("no job types are registered; nothing to seed")
    now = time.time()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in _statements(connection.vendor, count, type_ids, now):
            cursor.execute(statement)
    print(f"seeded {count:,} jobs and attempts in {time.perf_counter() - started:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _statements(vendor: str, n: int, type_ids: list[int], now: float) -> list[str]:
    k = len(type_ids)
    step = SPAN_SECONDS / n
    types = "CASE i % {} {} END".format(k, " ".join(f"WHEN {r} THEN {pk}" for r, pk in enumerate(type_ids)))
    if vendor == "postgresql":
        at = f"to_timestamp({now} - i * {step})"
        series = f"generate_series(1::bigint, {n}) AS i"
        uid = "md5(i::text)::uuid"
        ready_at = f"to_timestamp({now} - i)"
        ready_uid = "md5('ready' || i::text)::uuid"
        ready_series = f"generate_series(1, {READY_JOBS}) AS i"
        prefix = ""
        json_empty, json_list = "'{}'::jsonb", "'[]'::jsonb"
        millis = "interval '1 millisecond'"
        started_expr = f"finished_at - ((i * 7919) % 2000) * {millis}"
        run_after_expr = f"{at} - ((i * 7919) % 2000 + (i * 104729) % 5000) * {millis}"
    else:
        at = f"strftime('%Y-%m-%d %H:%M:%f', {now} - i * {step}, 'unixepoch')"
        series = "s"
        uid = "printf('%032x', i)"
        ready_at = f"strftime('%Y-%m-%d %H:%M:%f', {now} - i, 'unixepoch')"
        ready_uid = "printf('f%031x', i)"
        ready_series = "r"
        prefix = (
            f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}), "
            f"r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < {READY_JOBS}) "
        )
        json_empty, json_list = "'{}'", "'[]'"
        started_expr = f"strftime('%Y-%m-%d %H:%M:%f', {now} - i * {step} - ((i * 7919) % 2000) / 1000.0, 'unixepoch')"
        run_after_expr = f"strftime('%Y-%m-%d %H:%M:%f', {now} - i * {step} - ((i * 7919) % 2000 + (i * 104729) % 5000) / 1000.0, 'unixepoch')"
    job_columns = (
        "id, job_type_id, payload, priority, status, attempts, max_attempts, run_after, created_at, "
        "started_at, finished_at, claimed_by, worker, last_error, progress_message, created_by"
    )
    status = "CASE WHEN i % 50 = 0 THEN 'dead' ELSE 'succeeded' END"
    jobs = (
        f"{prefix}INSERT INTO jobqueue_job ({job_columns}) "
        f"SELECT {uid}, {types}, {json_empty}, 0, {status}, 1, 3, {run_after_expr}, {run_after_expr}, "
        f"{started_expr.replace('finished_at', at)}, {at}, '', '', '', '', 'bench' FROM {series}"
    )
    ready = (
        f"{prefix}INSERT INTO jobqueue_job ({job_columns}) "
        f"SELECT {ready_uid}, {types}, {json_empty}, i % 3 * 25, 'queued', 0, 3, {ready_at}, {ready_at}, "
        f"NULL, NULL, '', '', '', '', 'bench' FROM {ready_series}"
    )
    duration = "CAST((julianday(finished_at) - julianday(started_at)) * 86400000 AS INTEGER)"
    if vendor == "postgresql":
        duration = "CAST(EXTRACT(EPOCH FROM finished_at - started_at) * 1000 AS INTEGER)"
    attempts = (
        "INSERT INTO jobqueue_attempt (job_id, job_type_id, number, cluster, host, started_at, finished_at, "
        "duration_ms, outcome, error_type, error_message, traceback, logs) "
        f"SELECT id, job_type_id, 1, 'bench', 'bench', started_at, finished_at, {duration}, "
        "CASE WHEN status = 'dead' THEN 'failed' ELSE 'succeeded' END, "
        "CASE WHEN status = 'dead' THEN 'RuntimeError' ELSE '' END, '', '', "
        f"{json_list} FROM jobqueue_job WHERE status IN ('dead', 'succeeded')"
    )
    dead_id = "md5('dead' || id::text)::uuid" if vendor == "postgresql" else "'d' || substr(id, 2)"
    dead = (
        "INSERT INTO jobqueue_deadletter (id, job_id, job_type_id, reason, error_type, error_message, traceback, "
        "payload, attempts, created_at, resolution, resolved_by, resolution_reason) "
        f"SELECT {dead_id}, id, job_type_id, 'attempts_exhausted', 'RuntimeError', 'boom', '', {json_empty}, 1, "
        "finished_at, '', '', '' FROM jobqueue_job WHERE status = 'dead'"
    )
    return [jobs, ready, attempts, dead]


def roll_up() -> None:
    """Roll up every closed minute the metrics' longest window needs, as the job type would."""
    from jobqueue.observability import rollup

    started = time.perf_counter()
    minutes = rows = 0
    while True:
        report = rollup.roll_up()
        minutes, rows = minutes + report.minutes, rows + report.rows
        if not report.behind:
            break
    print(
        f"rolled up {minutes:,} minutes into {rows:,} rows in {time.perf_counter() - started:.1f} s "
        f"(until {report.rolled_until:%Y-%m-%d %H:%M} UTC)"
    )


def explain(window: str) -> None:
    """Print the plan of every query one snapshot makes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobqueue.observability import health, metrics

    with CaptureQueriesContext(connection) as captured:
        health.evaluate(metrics.snapshot(window))
    prefix = "EXPLAIN" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
    for query in captured.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"{prefix} {sql}")
            plan = "\n    ".join(" ".join(str(c) for c in row) for row in cursor.fetchall())
        print(f"{query['time']}s  {sql[:300]}\n    {plan}")


def measure(repeat: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from jobqueue.models import Attempt
    from jobqueue.observability import health, metrics

    print(f"{connection.vendor}: {Attempt.objects.count():,} attempts in the table")
    for window in metrics.WINDOWS:
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            snapshot = metrics.snapshot(window, now=timezone.now())
            health.evaluate(snapshot)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"  window {window:>4}: dashboard queries median {statistics.median(timings):7.1f} ms, "
            f"max {max(timings):7.1f} ms ({snapshot.total.counts.started:,} attempts in the window)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'bench' / 'results' / 'metrics.sqlite3'}")
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", metavar="WINDOW", help="print the query plans of one snapshot and stop")
    args = parser.parse_args()
    if args.database_url.startswith("sqlite:///"):
        Path(args.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if args.database_url.startswith(("postgres://", "postgresql://")):
        create_postgres_database(args.database_url)
    setup(args.database_url)
    seed(args.attempts)
    roll_up()
    if args.explain:
        explain(args.explain)
        return
    measure(args.repeat)


if __name__ == "__main__":
    main()
