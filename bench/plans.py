"""`python -m bench.plans`: the query plans of the engine's hot statements, over a big history.

Builds a database with `--finished` finished jobs and `--ready` ready ones (PostgreSQL:
`--pg-url`, a database `bench_plans` it creates, prefixed by `BENCH_DB_PREFIX`; SQLite: a temporary file), then prints
EXPLAIN for every statement the claim, start, finish, reclaim and the idle wait run, and the
indexes of the Job table with how many times each was scanned. An index no plan uses is one
more write on every status change for nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import databases

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, uuid
from datetime import timedelta
import django
django.setup()
from django.db import connection
from django.utils import timezone
from jobqueue.engine import sql, statements
from jobqueue.models import Job, JobType, Status
from jobqueue.services import sync_job_types

sync_job_types()
types = list(JobType.objects.values_list("pk", flat=True))
now = timezone.now()
finished, ready = {finished}, {ready}
vendor = connection.vendor
with connection.cursor() as c:
    if vendor == "postgresql":
        c.execute(
            "INSERT INTO jobqueue_job (id, job_type_id, payload, priority, claimed_by, worker, result, last_error, "
            "progress_message, created_by, status, attempts, max_attempts, run_after, created_at, finished_at) "
            "SELECT gen_random_uuid(), %s, '{{}}'::jsonb, 0, '', '', NULL, '', '', '', "
            "CASE WHEN g <= %s THEN 'succeeded' ELSE 'queued' END, CASE WHEN g <= %s THEN 1 ELSE 0 END, 3, "
            "now() - interval '1 hour', now() - (g || ' seconds')::interval, "
            "CASE WHEN g <= %s THEN now() ELSE NULL END FROM generate_series(1, %s) g",
            [types[0], finished, finished, finished, finished + ready],
        )
        c.execute("ANALYZE jobqueue_job")
        c.execute("SELECT pg_stat_reset()")
    else:
        rows = []
        for g in range(finished + ready):
            done = g < finished
            rows.append((uuid.uuid4().hex, types[0], "{{}}", 0, "", "", None, "", "", "",
                         "succeeded" if done else "queued", 1 if done else 0, 3,
                         sql.when(now - timedelta(hours=1)), sql.when(now - timedelta(seconds=g)),
                         sql.when(now) if done else None))
        c.executemany(
            "INSERT INTO jobqueue_job (id, job_type_id, payload, priority, claimed_by, worker, result, last_error, "
            "progress_message, created_by, status, attempts, max_attempts, run_after, created_at, finished_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)

explain = "EXPLAIN " if vendor == "postgresql" else "EXPLAIN QUERY PLAN "
some = [sql.job_id(str(uuid.uuid4())) for _ in range(3)]
cases = [
    ("claim: select_ready", statements.text("select_ready", vendor, types=len(types)),
     [sql.when(now), *types, 100]),
    ("claim: mark_claimed (3 jobs)", statements.text("mark_claimed", vendor, ids=3),
     ["c", sql.when(now), sql.when(now), *some]),
    ("start_unit (3 jobs)", statements.text("start_unit", vendor, jobs=3),
     [sql.when(now), "w", 30, sql.when(now), "c", some[0], 1, some[1], 1, some[2], 1]),
    ("finish", statements.text("finish", vendor),
     ["succeeded", "", None, sql.when(now), None, None, 0, some[0], 1, "c"]),
    ("reclaim: expired leases",
     "SELECT id FROM jobqueue_job WHERE status = 'running' AND lease_expires_at < %s ORDER BY lease_expires_at LIMIT 100",
     [sql.when(now)]),
    ("claim: running jobs of gated types",
     "SELECT job_type_id, COUNT(id) FROM jobqueue_job WHERE status = 'running' AND job_type_id IN (%s) GROUP BY job_type_id",
     [types[0]]),
    ("idle wait: next due",
     "SELECT run_after FROM jobqueue_job WHERE status IN ('queued', 'scheduled', 'retrying') AND run_after > %s "
     "ORDER BY run_after LIMIT 1", [sql.when(now)]),
    ("renew_held (3 jobs)", statements.text("renew_held", vendor, ids=3), [sql.when(now), "c", *some]),
]
# The ORM's reads of finished jobs by their end (the partial index jq_job_finished):
# retention's batch of a type past its cutoff, and the rollup's cancelled jobs of a window.
from django.db.models import Q
from jobqueue.models import ACTIVE, FINISHED
live = Job.objects.filter(status__in=[*ACTIVE, Status.BLOCKED], workflow_id__isnull=False).values("workflow_id")
prune = (
    Job.objects.filter(job_type_id=types[0], status__in=FINISHED, finished_at__lt=now - timedelta(minutes=1))
    .exclude(Q(status=Status.DEAD) & Q(dead_letter__resolution=""))
    .exclude(workflow_id__in=live)
    .order_by("finished_at")
    .values_list("pk", flat=True)[:500]
)
cancelled = Job.objects.filter(
    finished_at__gte=now - timedelta(minutes=1), finished_at__lt=now, status=Status.CANCELLED
).values_list("job_type_id", "finished_at").order_by()
for title, queryset in (("retention: a batch past the cutoff", prune), ("rollup: jobs cancelled in a window", cancelled)):
    print(f"-- {{title}}")
    for line in queryset.explain().splitlines():
        print("   ", line)
with connection.cursor() as c:
    for title, text, params in cases:
        c.execute(explain + text, params)
        print(f"-- {{title}}")
        for row in c.fetchall():
            print("   ", " | ".join(str(v) for v in row))
    if vendor == "postgresql":
        c.execute("SELECT indexrelname FROM pg_stat_user_indexes WHERE relname = 'jobqueue_job' ORDER BY 1")
        print("-- indexes of jobqueue_job:", ", ".join(r[0] for r in c.fetchall()))
    else:
        c.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobqueue_job' ORDER BY 1")
        print("-- indexes of jobqueue_job:", ", ".join(r[0] for r in c.fetchall()))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plans", description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--finished", type=int, default=200_000)
    parser.add_argument("--ready", type=int, default=10_000)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="jobqueue-plans-") as scratch:
        if args.database == "postgres":
            url = args.pg_url.rstrip("/") + "/" + os.environ.get(databases.PREFIX_VARIABLE, "") + "bench_plans"
            databases.recreate("postgresql", url)
        else:
            url = f"sqlite:///{scratch}/plans.sqlite3"
        env = databases.django_env("ours", url)
        databases.migrate("ours", url)
        script = SCRIPT.format(finished=args.finished, ready=args.ready)
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=False)
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
