"""Where the time goes in a drain: py-spy samples per cluster process, queries per job, commits.

`python -m bench.profile --database sqlite|postgres --side ours|rawq [--jobs N]` prints a JSON
summary: for each cluster process (pusher, monitor, workers, found by their stacks) the CPU
seconds sampled and its hottest functions; for PostgreSQL the commits and rows written per
job (pg_stat_database) and the CPU seconds of the server backends; and the SQL statements
each role issues per job, captured in-process on a few jobs. Runs one probe of its own.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RATE = 100  # samples per second per thread
# Frames worth naming in the inclusive list: the queue code, not the process plumbing around it.
OWN_CODE = ("jobqueue/", "django_q/", "django/db/", "pydantic", "bench/")


def parse_raw(path: Path, cpu: dict[int, float], top: int = 14) -> dict[str, Any]:
    """py-spy's raw output (one `frames count` line per stack) -> per role (pusher, monitor, worker,
    sentinel): CPU seconds from /proc, sampled active seconds, and the hottest functions (inclusive
    and self), leaving out the frames every stack of the role shares."""
    inclusive: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    leaf: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    totals: collections.Counter[str] = collections.Counter()
    roles: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        processes = [f for f in frames if f.startswith("process ")]
        pid = processes[-1].split(":")[0].removeprefix("process ") if processes else "?"
        code = [f for f in frames if not f.startswith(("process ", "thread "))]
        names = {f.split(" (")[0] for f in code}
        for role in ("pusher", "monitor", "worker"):
            if role in names:
                roles[pid] = role
        totals[pid] += count
        inclusive[pid].update(dict.fromkeys(set(code), count))
        if code:
            leaf[pid][code[-1]] += count
    out: dict[str, Any] = {}
    for pid, samples in totals.items():
        role = roles.get(pid, "sentinel/main")
        entry = out.setdefault(
            role,
            {
                "cpu_seconds": 0.0,
                "active_seconds": 0.0,
                "pids": [],
                "_inc": collections.Counter(),
                "_self": collections.Counter(),
            },
        )
        entry["active_seconds"] += samples / RATE
        entry["cpu_seconds"] += cpu.get(int(pid), 0.0) if pid.isdigit() else 0.0
        entry["pids"].append(pid)
        entry["_inc"].update(inclusive[pid])
        entry["_self"].update(leaf[pid])
    for entry in out.values():
        shared = entry["active_seconds"] * RATE * 0.97
        entry["hot_inclusive"] = [
            (name, round(n / RATE, 2))
            for name, n in entry.pop("_inc").most_common(400)
            if n < shared and any(part in name for part in OWN_CODE)
        ][:top]
        entry["hot_self"] = [(name, round(n / RATE, 2)) for name, n in entry.pop("_self").most_common(top)]
        entry["active_seconds"] = round(entry["active_seconds"], 2)
        entry["cpu_seconds"] = round(entry["cpu_seconds"], 2)
    return out


def cpu_seconds(pids: list[int], seen: dict[int, float]) -> None:
    """Record utime + stime of each pid (the latest reading wins, so recycled workers count too)."""
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seen[pid] = (int(fields[11]) + int(fields[12])) / ticks


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"  # installed in the venv by `.[bench]`
    return str(beside) if beside.exists() else shutil.which("py-spy") or "py-spy"


def pg_stats(conn: Any, name: str) -> dict[str, int]:
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_returned, tup_fetched "
            "FROM pg_stat_database WHERE datname = %s",
            [name],
        )
        row = cursor.fetchone()
    keys = ("commits", "inserted", "updated", "deleted", "returned", "fetched")
    return dict(zip(keys, row, strict=True))


def backend_cpu(conn: Any, name: str) -> float:
    with conn.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [name])
        pids = [row[0] for row in cursor.fetchall()]
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def queries_per_job(side: str) -> dict[str, Any]:
    """The SQL each role runs for one job, captured in-process on a few jobs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    jobs = 20
    roles: dict[str, tuple[list[str], int]] = {}
    if side == "ours":
        from bench.ours import TYPE, reset
        from jobqueue import enqueue_many
        from jobqueue.engine.claim import claim
        from jobqueue.engine.pipeline import run_unit
        from jobqueue.engine.units import Unit

        reset()
        enqueue_many([{"type": TYPE}] * (jobs * 2 + 1))
        claim(1, "warm-up")  # fill the type configuration cache outside the capture
        # Two shapes: one-job units (a type with no timing yet, or a long one) and a chunk of
        # `jobs` (a short type at saturation, as the drain runs it once timed).
        for label, size in (("", 1), (" (chunk)", jobs)):
            with CaptureQueriesContext(connection) as pusher:
                claimed: list[Unit] = []
                for _ in range(jobs):  # bounded: another cluster on this database could take jobs
                    taken = claim(2, "profile", lambda state, size=size: size)
                    claimed += taken
                    if not taken or sum(len(u.jobs) for u in claimed) >= jobs:
                        break
            with CaptureQueriesContext(connection) as worker:
                for unit in claimed:
                    run_unit(unit)
            done = sum(len(unit.jobs) for unit in claimed)
            roles[f"pusher{label}"] = ([q["sql"] for q in pusher], done)
            roles[f"worker{label}"] = ([q["sql"] for q in worker], done)
    else:
        from django.utils import timezone
        from django_q.brokers import get_broker
        from django_q.monitor import save_task
        from django_q.signing import SignedPackage
        from django_q.tasks import async_task

        from bench.rawq import FUNC, reset

        reset()
        broker = get_broker()
        for _ in range(jobs):
            async_task(FUNC, broker=broker)
        with CaptureQueriesContext(connection) as pusher:
            taken = broker.dequeue() or []
        with CaptureQueriesContext(connection) as monitor:
            for ack_id, package in taken:
                task = SignedPackage.loads(package)
                task.update(result=None, success=True, stopped=timezone.now(), cluster="profile")
                save_task(task, broker)
                broker.acknowledge(ack_id)
        done = len(taken)
        roles = {"pusher": ([q["sql"] for q in pusher], done), "monitor": ([q["sql"] for q in monitor], done)}
    return {
        role: {"per_job": round(len(sqls) / max(done, 1), 2), "jobs": done, "statements": _shapes(sqls, done)}
        for role, (sqls, done) in roles.items()
    }


def _shapes(sqls: list[str], jobs: int) -> list[tuple[str, float]]:
    """Statements with their literals replaced by ?, counted per job."""
    counter = collections.Counter(
        re.sub(r"\b\d+\b", "?", re.sub(r"'[^']*'", "?", " ".join(s.split())))[:120] for s in sqls
    )
    return [(shape, round(n / max(jobs, 1), 2)) for shape, n in counter.most_common()]


def unit_sizes() -> dict[str, Any]:
    """Jobs per claim and per unit in the drain, read from the jobs' rows: a claim stamps all
    its jobs' `claimed_at` with one time, a worker's start all its unit's `started_at`."""
    from django.db.models import Count

    from bench.ours import TYPE
    from jobqueue.models import Job

    drained = Job.objects.filter(job_type__name=TYPE, finished_at__isnull=False)
    jobs = drained.count()
    claims = drained.values("claimed_at").annotate(n=Count("id")).count()
    units = list(
        drained.values("started_at", "worker")
        .annotate(n=Count("id"))
        .order_by("started_at")
        .values_list("n", flat=True)
    )
    return {
        "jobs_per_claim": round(jobs / max(claims, 1), 1),
        "jobs_per_unit": round(jobs / max(len(units), 1), 1),
        "units": len(units),
        "one_job_units": units.count(1),
        "first_units": units[:20],
    }


def drain_profile(side: str, jobs: int, workers: int, scratch: str) -> dict[str, Any]:
    """Enqueue `jobs`, start a cluster under `py-spy record --subprocesses`, drain, summarize."""
    from django.db import connection

    from bench import ours, rawq
    from bench.clusters import Cluster
    from bench.measure import wait_until

    module = ours if side == "ours" else rawq
    module.reset()
    if side == "ours":
        from jobqueue.models import Job

        ours.enqueue_bulk(jobs)
        finished = ours.succeeded
        started_any = Job.objects.filter(started_at__isnull=False).exists
    else:
        from django_q.models import OrmQ

        rawq.enqueue_single(jobs)
        finished = lambda: jobs - OrmQ.objects.count()  # noqa: E731
        started_any = lambda: finished() > 0  # noqa: E731
    postgres = connection.vendor == "postgresql"
    name = connection.settings_dict["NAME"]
    monitor_conn = None
    if postgres:
        import psycopg

        params = connection.get_connection_params()
        for key in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(key, None)
        monitor_conn = psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True)
        before = pg_stats(monitor_conn, name)
    raw = Path(scratch) / f"pyspy-{side}.txt"
    env = {"BENCH_RAWQ_MODE": os.environ.get("BENCH_RAWQ_MODE", "tuned")}
    cluster = Cluster(Path(scratch) / f"profile-{side}.log", workers, **env)
    began = time.perf_counter()
    backend_seconds = None
    cpu: dict[int, float] = {}
    spy: subprocess.Popen[bytes] | None = None

    started: dict[str, Any] = {}

    def drained() -> bool:
        cpu_seconds([cluster.proc.pid, *cluster.descendants()], cpu)
        if monitor_conn is not None and not started and started_any():
            # The cluster's start-up (its job type sync, its first statements) is behind it:
            # what commits from here on is the drain's own.
            started.update(pg_stats(monitor_conn, name), done=finished())
        return finished() >= jobs

    try:
        spy = subprocess.Popen(
            [_py_spy(), "record", "--pid", str(cluster.proc.pid), "--subprocesses",
             "--nonblocking", "--rate", str(RATE), "--format", "raw", "--output", str(raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(drained, 600, 0.2, "profile drain did not finish")
        elapsed = time.perf_counter() - began
        if monitor_conn is not None:
            backend_seconds = backend_cpu(monitor_conn, name)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        cluster.stop()
    result: dict[str, Any] = {"jobs": jobs, "wall_seconds_with_startup": round(elapsed, 2)}
    if monitor_conn is not None:
        time.sleep(1.5)  # statistics reach pg_stat_database when the backends flush them
        after = pg_stats(monitor_conn, name)
        result["pg_per_job"] = {k: round((after[k] - before[k]) / jobs, 2) for k in after}
        if started:
            # From the first start seen (polled every 0.2 s) to the end, the harness's own polls
            # included: per job finished in that window.
            window = max(1, jobs - int(started["done"]))
            result["pg_per_job_draining"] = {k: round((after[k] - started[k]) / window, 3) for k in after}
        result["pg_backend_cpu_seconds"] = round(backend_seconds or 0.0, 2)
        monitor_conn.close()
    if side == "ours":
        result["units"] = unit_sizes()
    result["processes"] = parse_raw(raw, cpu) if raw.exists() else "py-spy wrote nothing (is ptrace allowed?)"
    result["cluster_cpu_seconds"] = round(sum(cpu.values()), 2)
    return result


def run(side: str, jobs: int, workers: int, scratch: str) -> dict[str, Any]:
    return {"queries": queries_per_job(side), "drain": drain_profile(side, jobs, workers, scratch)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--side", choices=["ours", "rawq"], default="ours")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    args = parser.parse_args(argv)
    from bench import databases
    from bench.cli import run_probe

    scratch = tempfile.mkdtemp(prefix="jobqueue-profile-")
    url = databases.database_url(args.database, args.side, args.pg_url, Path(scratch))
    databases.recreate(args.database, url)
    databases.migrate(args.side, url)
    probe_args = {"side": args.side, "jobs": args.jobs, "workers": args.workers, "scratch": scratch}
    result = run_probe("profile", args.side, url, probe_args, {}, 900)
    print(json.dumps(result, indent=1, default=str))
    if result.get("ok"):
        shutil.rmtree(scratch, ignore_errors=True)
        return 0
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
