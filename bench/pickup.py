"""Where a pickup's time goes: enqueue into an idle cluster, split at the claim and the start.

    BENCH_DB_PREFIX=h25c_ .venv/bin/python -m bench.pickup --database postgres --jobs 200
    .venv/bin/python -m bench.pickup --database sqlite --jobs 200 --root /tmp/main-export

Creates and migrates its own database (`<BENCH_DB_PREFIX>bench_pickup`, or a SQLite file in
a temp dir), starts a `qcluster` of the checkout at `--root` (2 workers, bench settings),
lets it go idle, then enqueues `--jobs` no-op jobs one at a time `--interval` apart and
prints, from the database's own timestamps and one LISTEN connection of the harness, p50 and
p95 of each leg: enqueue (the job's `created_at` to the enqueue's return, its commit), NOTIFY
(`created_at` to the harness's listener receiving it, PostgreSQL only), to claim
(`created_at` to `claimed_at`: the wake-up and the pusher's turn), to start (`claimed_at`
to the attempt's `started_at`: the claim's transaction, django-q2's hand-off to a worker)
and the total. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _listen(url: str, channel: str, seen: list[float], ready: threading.Event, stop: threading.Event) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'LISTEN "{channel}"')
        ready.set()
        while not stop.is_set():
            for _ in conn.notifies(timeout=0.2, stop_after=1):
                seen.append(time.time())


def measure(url: str, jobs: int, interval: float, log: Path) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings_ours")
    import django

    django.setup()
    from django.db import connection

    from bench import ours
    from bench.clusters import Cluster
    from bench.measure import millis, percentile, wait_until
    from jobqueue import enqueue
    from jobqueue.config.settings import jobqueue_settings
    from jobqueue.models import Attempt

    ours.reset()
    heard: list[float] = []
    ready, stop = threading.Event(), threading.Event()
    if connection.vendor == "postgresql":
        listener = threading.Thread(
            target=_listen, args=(url, jobqueue_settings.NOTIFY_CHANNEL, heard, ready, stop), daemon=True
        )
        listener.start()
        ready.wait(10)
    cluster = Cluster(log, 2)
    try:
        enqueue(ours.TYPE)  # warm-up: every process has imported and connected
        wait_until(lambda: ours.succeeded() >= 1 or not cluster.alive(), 60, 0.05, "warm-up job did not finish")
        time.sleep(1.5)  # idle: the cluster's backoff has reached its longest wait
        ids, returned = [], []
        for _ in range(jobs):
            ids.append(str(enqueue(ours.TYPE).pk))
            returned.append(time.time())
            time.sleep(interval)
        wait_until(lambda: ours.succeeded() >= jobs + 1 or not cluster.alive(), 60, 0.05, "jobs did not finish")
    finally:
        cluster.stop()
        stop.set()
    rows = {
        str(job_id): (created, claimed, started, code)
        for job_id, created, claimed, started, code in Attempt.objects.filter(job_id__in=ids, number=1).values_list(
            "job_id", "job__created_at", "job__claimed_at", "job__started_at", "started_at"
        )
    }
    legs: dict[str, list[float]] = {
        "enqueue": [],
        "notify": [],
        "to_claim": [],
        "to_start": [],
        "total": [],
        "start_write": [],
        "total_to_code": [],
    }
    for index, job_id in enumerate(ids):
        created, claimed, started, code = rows[job_id]
        legs["enqueue"].append(returned[index] * 1000 - created.timestamp() * 1000)
        legs["to_claim"].append(millis(created, claimed))
        legs["to_start"].append(millis(claimed, started))
        legs["total"].append(millis(created, started))
        legs["start_write"].append(millis(started, code))
        legs["total_to_code"].append(millis(created, code))
        # The first notification heard after this job's creation (the enqueue sent one).
        after = [t for t in heard if t >= created.timestamp()]
        if after:
            legs["notify"].append(after[0] * 1000 - created.timestamp() * 1000)
    return {leg: {"p50": percentile(v, 0.5), "p95": percentile(v, 0.95), "n": len(v)} for leg, v in legs.items() if v}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose cluster runs")
    args = parser.parse_args(argv)
    if os.environ.get("_PICKUP_CHILD"):
        result = measure(os.environ["DATABASE_URL"], args.jobs, args.interval, Path(os.environ["_PICKUP_LOG"]))
        print(json.dumps(result))
        return 0
    from bench import databases

    scratch = Path(tempfile.mkdtemp(prefix="jobqueue-pickup-"))
    name = os.environ.get(databases.PREFIX_VARIABLE, "") + "bench_pickup"
    url = f"sqlite:///{scratch / 'pickup.sqlite3'}" if args.database == "sqlite" else f"{args.pg_url}/{name}"
    databases.recreate(args.database, url)
    env = databases.django_env("ours", url, _PICKUP_CHILD="1", _PICKUP_LOG=str(scratch / "cluster.log"))
    env["PYTHONPATH"] = str(args.root)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=args.root, env=env, check=True)
    print(f"load average {Path('/proc/loadavg').read_text().split()[:3]}", file=sys.stderr)
    done = subprocess.run(
        [sys.executable, "-m", "bench.pickup", *(argv if argv is not None else sys.argv[1:])],
        cwd=args.root,
        env=env,
        check=False,
    )
    print(f"load average {Path('/proc/loadavg').read_text().split()[:3]}", file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
