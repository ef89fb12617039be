"""What taking SQLite's write lock the engine's way costs a single `enqueue`.

    DATABASE_URL=sqlite:////tmp/lone.sqlite3 .venv/bin/python bench/lone_write.py

Enqueues 3,000 jobs three times each way on one connection, alternating: through
`sql.lone_write()` (the insert in autocommit with a busy timeout of zero, run again while
the write lock is taken) and as a plain autocommit insert; prints microseconds per enqueue.
Nothing else writes, so this is the cost on the fast path, not the wait. A script, never a
timed test: the figures depend on the machine.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production")
os.environ.setdefault("DEBUG", "false")


def main(jobs: int = 3000, rounds: int = 3) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from jobqueue import enqueue
    from jobqueue.engine import sql
    from jobqueue.services import sync_job_types

    if connection.vendor != "sqlite":
        raise SystemExit("lone_write only differs on SQLite: point DATABASE_URL at a SQLite file")
    call_command("migrate", verbosity=0)
    sync_job_types()
    polled = sql.lone_write

    def per_enqueue() -> float:
        started = time.perf_counter()
        for _ in range(jobs):
            enqueue("jobqueue_prune", {})
        return (time.perf_counter() - started) / jobs * 1e6

    found: dict[str, list[float]] = {"lone_write": [], "autocommit": []}
    for _ in range(rounds):
        sql.lone_write = polled
        found["lone_write"].append(per_enqueue())
        sql.lone_write = lambda write: write()
        found["autocommit"].append(per_enqueue())
    sql.lone_write = polled
    for way, values in found.items():
        print(f"{way}: " + ", ".join(f"{v:.1f}" for v in values) + " us per enqueue")


if __name__ == "__main__":
    main()
