"""Time the operator's console over a history of 1,000,000 attempts: the failures view, a payload
search by an indexed field, and a job type's page (each the whole admin response, rendered).

    .venv/bin/python bench/console_bench.py                  # SQLite, bench/results/console.sqlite3
    .venv/bin/python bench/console_bench.py --database-url postgres://postgres@127.0.0.1:5432/jq_console_bench

Seeds the history as bench/metrics_bench.py does (1,000,000 jobs and attempts over 30 days, 2 %
of them failed and dead-lettered), then gives every job a payload (`dao_id` among 5,000 DAOs, a
`text`) and the failures three error types with variable messages, creates the payload index
(PostgreSQL: the GIN index of migration 0010; SQLite: the expression index of `dao_id`) and rolls
the metrics up. Then times each page `--repeat` times and prints the medians. A script, never a
timed test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import metrics_bench

ROOT = metrics_bench.ROOT
DAOS = 5_000


def enrich() -> None:
    """Payloads for every job and varied failure messages (once per database)."""
    from django.db import connection, transaction

    from jobqueue.models import Job
    from jobqueue.observability.search import payload_key_index_sql

    with connection.cursor() as cursor:
        # Attempts seeded before migration 0012: the type the engine now records on each attempt.
        cursor.execute(
            "UPDATE jobqueue_attempt SET job_type_id = (SELECT j.job_type_id FROM jobqueue_job j "
            "WHERE j.id = jobqueue_attempt.job_id) WHERE job_type_id IS NULL"
        )
    if Job.objects.filter(payload__has_key="dao_id").exists():
        print("already enriched")
        return
    started = time.perf_counter()
    pg = connection.vendor == "postgresql"
    number = "abs(hashtext(id::text))" if pg else "rowid"
    payload = (
        f"jsonb_build_object('dao_id', {number} % {DAOS}, 'text', 'post ' || {number})"
        if pg
        else f"json_object('dao_id', {number} % {DAOS}, 'text', 'post ' || {number})"
    )
    kinds = (
        "CASE id % 3 WHEN 0 THEN 'TimeoutError' WHEN 1 THEN 'KeyError' ELSE 'ValueError' END",
        "CASE id % 3 WHEN 0 THEN 'upstream timed out after ' || (id % 90) || ' s' "
        "WHEN 1 THEN '''dao_' || (id % 7) || '''' ELSE 'bad token ' || id || ' for proposal ' || (id % 500) END",
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if pg:
            cursor.execute("DROP INDEX IF EXISTS jq_job_payload_gin")
        cursor.execute(f"UPDATE jobqueue_job SET payload = {payload}")
        cursor.execute(
            f"UPDATE jobqueue_attempt SET error_type = {kinds[0]}, error_message = {kinds[1]}, "
            "traceback = 'Traceback (most recent call last):' WHERE outcome = 'failed'"
        )
        cursor.execute(
            "UPDATE jobqueue_deadletter SET error_type = (SELECT a.error_type FROM jobqueue_attempt a "
            "WHERE a.job_id = jobqueue_deadletter.job_id), error_message = (SELECT a.error_message "
            "FROM jobqueue_attempt a WHERE a.job_id = jobqueue_deadletter.job_id)"
        )
        if pg:
            cursor.execute("CREATE INDEX jq_job_payload_gin ON jobqueue_job USING gin (payload jsonb_path_ops)")
        else:
            cursor.execute(payload_key_index_sql("dao_id", "sqlite"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"payloads, failure messages and the payload index in {time.perf_counter() - started:.1f} s")


def measure(repeat: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from jobqueue.models import Attempt, Job, JobType

    user, _ = get_user_model().objects.get_or_create(
        username="console-bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    busiest = JobType.objects.get(pk=Job.objects.filter(status="dead").values_list("job_type_id", flat=True)[:1][0])
    pages = {
        "failures, 24 h": (reverse("admin:jobqueue_failures"), {"window": "24h"}),
        "failures, 7 d": (reverse("admin:jobqueue_failures"), {"window": "7d"}),
        "payload search dao_id=42": (reverse("admin:jobqueue_job_changelist"), {"q": "dao_id=42"}),
        "payload search dao_id=42 status=dead": (
            reverse("admin:jobqueue_job_changelist"),
            {"q": "dao_id=42 status=dead"},
        ),
        f"job type page ({busiest.name})": (reverse("admin:jobqueue_jobtype_overview", args=[busiest.pk]), {}),
    }
    print(f"{connection.vendor}: {Attempt.objects.count():,} attempts, {Job.objects.count():,} jobs")
    for label, (url, params) in pages.items():
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url, params)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        print(f"  {label:<40} median {statistics.median(timings):7.1f} ms, max {max(timings):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'bench' / 'results' / 'console.sqlite3'}")
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    # The pages are rendered in this process, with no `collectstatic` run: plain static URLs.
    os.environ.setdefault("STATIC_MANIFEST", "false")
    if args.database_url.startswith("sqlite:///"):
        Path(args.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if args.database_url.startswith(("postgres://", "postgresql://")):
        metrics_bench.create_postgres_database(args.database_url)
    metrics_bench.setup(args.database_url)
    metrics_bench.seed(args.attempts)
    enrich()
    metrics_bench.roll_up()
    measure(args.repeat)


if __name__ == "__main__":
    main()
