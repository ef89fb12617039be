"""Where the time of an enqueue goes: rates, a cProfile of each path, the database's own share.

    DATABASE_URL=sqlite:////tmp/enq.sqlite3 .venv/bin/python -m bench.enqueue_cost --jobs 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/enq .venv/bin/python -m bench.enqueue_cost --server

In one process on bench.settings_ours (the bench's `bench_noop` type): `enqueue_many` in
batches of 500 (one transaction each) and single `enqueue` calls in autocommit, as
`python -m bench` times them; `--profile` adds the hottest functions of each (cProfile,
which slows Python down, so its split is what to read, not its times); `--rawq` times raw django-q2's `async_task` the same way (bench.settings_rawq); `--server` times
the database alone inserting the same rows (`INSERT ... SELECT` of N generated rows inside
the server) with all of the job table's indexes and without each one in turn (dropped in a
transaction that is rolled back), which is what each index costs a row. A script, never a
timed test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings_ours")
os.environ.setdefault("DEBUG", "false")

TYPE = "bench_noop"


def _profiled(label: str, run: Any, top: int) -> None:
    profile = cProfile.Profile(time.process_time)  # CPU time: the machine may be shared
    profile.runcall(run)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(top)
    print(f"--- cProfile: {label} (sorted by own time)")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


def _server_rows(jobs: int) -> str:
    """One statement that makes `jobs` rows like enqueue_many's inside the server."""
    from django.db import connection

    from jobqueue.config.effective import type_state

    type_id = type_state(TYPE).type_id
    if connection.vendor == "postgresql":
        return f"""
            INSERT INTO jobqueue_job (id, job_type_id, payload, priority, status, attempts, max_attempts,
                run_after, created_at, claimed_by, worker, last_error, progress_message, created_by)
            SELECT gen_random_uuid(), {type_id}, '{{}}'::jsonb, 0, 'queued', 0, 1, now(), now(), '', '', '', '', ''
            FROM generate_series(1, {jobs})"""
    return f"""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {jobs})
        INSERT INTO jobqueue_job (id, job_type_id, payload, priority, status, attempts, max_attempts,
            run_after, created_at, claimed_by, worker, last_error, progress_message, created_by)
        SELECT lower(hex(randomblob(16))), {type_id}, '{{}}', 0, 'queued', 0, 1,
            strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now'), '', '', '', '', ''
        FROM n"""


def server_cost(jobs: int) -> None:
    """Microseconds per row the database spends inserting, with every index and without each."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'jobqueue_job' AND indexname NOT LIKE '%pkey'"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobqueue_job' AND sql IS NOT NULL"
            )
        indexes = [row[0] for row in cursor.fetchall()]
    statement = _server_rows(jobs)

    def timed(drop: str | None) -> float:
        best = float("inf")
        for _ in range(3):
            with transaction.atomic(), connection.cursor() as cursor:
                if drop is not None:
                    cursor.execute(f'DROP INDEX "{drop}"')
                began = time.perf_counter()
                cursor.execute(statement)
                best = min(best, time.perf_counter() - began)
                transaction.set_rollback(True)
        return best / jobs * 1e6

    every = timed(None)
    print(
        f"server: {every:.1f} us per row with all {len(indexes)} indexes and the primary key ({jobs} rows, best of 3)"
    )
    for name in indexes:
        without = timed(name)
        print(f"  without {name}: {without:.1f} us per row ({every - without:+.1f})")


def _rawq(jobs: int) -> None:
    from bench import rawq

    rates, cpu = [], []
    for _ in range(3):
        rawq.reset()
        began = time.process_time()
        rates.append(rawq.enqueue_single(jobs))
        cpu.append((time.process_time() - began) / jobs * 1e6)
    rawq.reset()
    print(
        "raw django-q2 async_task, one per call: "
        + ", ".join(f"{r:,.0f}" for r in rates)
        + " jobs/s; CPU of this process: "
        + ", ".join(f"{c:.1f}" for c in cpu)
        + " us per job"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--server", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--bulk-only", action="store_true", help="time enqueue_many alone, not single enqueue")
    parser.add_argument("--rawq", action="store_true", help="raw django-q2's async_task instead (single only)")
    args = parser.parse_args()
    if args.rawq:
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_rawq"

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if args.rawq:
        _rawq(args.jobs)
        return
    from bench import ours
    from jobqueue.services import sync_job_types

    sync_job_types()
    import jobqueue

    print(f"{connection.vendor}, {args.jobs} jobs, code from {Path(jobqueue.__file__).parent.parent}")
    paths = [("enqueue_many, 500 per call", ours.enqueue_bulk), ("enqueue, one per call", ours.enqueue_single)]
    for label, run in paths[:1] if args.bulk_only else paths:
        ours.reset()
        rates, cpu = [], []
        for _ in range(3):
            ours.reset()
            began = time.process_time()
            rates.append(run(args.jobs))
            cpu.append((time.process_time() - began) / args.jobs * 1e6)
        print(
            f"{label}: "
            + ", ".join(f"{r:,.0f}" for r in rates)
            + " jobs/s; CPU of this process (SQLite's included, PostgreSQL's server not): "
            + ", ".join(f"{c:.1f}" for c in cpu)
            + " us per job"
        )
        if args.profile:
            ours.reset()
            _profiled(label, lambda run=run: run(args.jobs), args.top)
    ours.reset()
    if args.server:
        server_cost(args.jobs)
    ours.reset()


if __name__ == "__main__":
    main()
