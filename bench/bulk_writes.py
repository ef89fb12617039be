"""PostgreSQL: the same new jobs written by `INSERT ... SELECT FROM UNNEST` and by COPY, and
COPY sent in chunks against in one piece: what each costs the client and the wall clock.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/enq .venv/bin/python -m bench.bulk_writes

In one process on bench.settings_ours: calls of `--rows` jobs of the bench's type, one
transaction each (committed, as `enqueue_many` would), the ways alternated `--rounds` times.
`unnest (prebuilt)` and `copy (prebuilt)` send parameters or text made before the clock
starts, so their wall time is the server's insert and commit plus a round trip; `enqueue_many`
with COPY in chunks of 100 (the default) and in one piece says what the overlap of building
with the server's insert is worth. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings_ours")
os.environ.setdefault("DEBUG", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    from bench import ours
    from jobqueue.engine import bulk, bulkrows, inserts, sql
    from jobqueue.models import Job
    from jobqueue.services import sync_job_types

    if connection.vendor != "postgresql":
        raise SystemExit("PostgreSQL only: COPY is its own")
    sync_job_types()
    items = [{"type": ours.TYPE}] * args.rows

    def prebuilt_unnest() -> Callable[[], None]:
        jobs = bulk.enqueue_many(items)  # rows exactly as enqueue_many makes them
        Job.objects.filter(pk__in=[j.pk for j in jobs]).delete()
        for job in jobs:
            job._state.adding = True
        statement = sql.insert_statement(Job, "postgresql")
        columns = inserts.converters(Job, connection.alias)
        states = [job.__dict__ for job in jobs]
        values = [convert([s[name] for s in states], connection) for name, convert in columns.items()]

        def run() -> None:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(*statement.render(values))

        return run

    def prebuilt_copy() -> Callable[[], None]:
        real = bulkrows.COPY_CHUNK
        bulkrows.COPY_CHUNK = args.rows  # one piece
        columns = bulkrows.JobColumns(args.rows, _columns(items), {"created_at": _now(), "created_by": ""})
        text = "".join(bulkrows.copy_text(columns))
        bulkrows.COPY_CHUNK = real
        statement = bulkrows.copy_statement()

        def run() -> None:
            with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
                copy.write(text)

        return run

    def enqueue_many_chunked(chunk: int) -> Callable[[], None]:
        def run() -> None:
            bulkrows.COPY_CHUNK = chunk
            bulk.enqueue_many(items)

        return run

    ways = {
        "unnest (prebuilt)": prebuilt_unnest(),
        "copy (prebuilt)": prebuilt_copy(),
        f"enqueue_many, COPY in chunks of {bulkrows.COPY_CHUNK}": enqueue_many_chunked(bulkrows.COPY_CHUNK),
        f"enqueue_many, COPY in one piece of {args.rows}": enqueue_many_chunked(args.rows),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, run in ways.items():
            wall = cpu = 0.0
            for _ in range(args.calls):
                ours.reset()
                began, began_cpu = time.perf_counter(), time.process_time()
                run()
                wall += time.perf_counter() - began
                cpu += time.process_time() - began_cpu
            rows = args.calls * args.rows
            results[name].append((wall / rows * 1e6, cpu / rows * 1e6))
    print(f"{args.rows} rows per call, {args.calls} calls, {args.rounds} rounds; load {os.getloadavg()}")
    for name, figures in results.items():
        walls = [w for w, _ in figures]
        cpus = [c for _, c in figures]
        print(
            f"{name}: wall {statistics.median(walls):.1f} us per row ({min(walls):.1f}-{max(walls):.1f}), "
            f"client CPU {statistics.median(cpus):.1f} us per row"
        )


def _now() -> object:
    from django.utils import timezone

    return timezone.now()


def _columns(items: list[dict[str, str]]) -> dict[str, list[object]]:
    from jobqueue.config.effective import type_state

    state = type_state(items[0]["type"])
    now = _now()
    count = len(items)
    return {
        "job_type_id": [state.type_id] * count,
        "payload": [{} for _ in range(count)],
        "partition_key": [""] * count,
        "priority": [state.config.priority] * count,
        "status": ["queued"] * count,
        "max_attempts": [state.config.max_attempts] * count,
        "run_after": [now] * count,
        "unique_key": [None] * count,
    }


if __name__ == "__main__":
    main()
