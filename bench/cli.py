"""`python -m bench`: options, the plan of runs, and the loop that runs, summarizes and reports them."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import cases as concurrency
from bench import ceiling, databases, race, report
from bench.probe import MARKER

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.json"
# Side key -> (side, extra environment of its Django processes).
SIDE_KEYS = {
    "rawq_defaults": ("rawq", {"BENCH_RAWQ_MODE": "defaults"}),
    "rawq_tuned": ("rawq", {"BENCH_RAWQ_MODE": "tuned"}),
    "ours": ("ours", {}),
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark this job queue against raw django-q2 (and optionally Celery and Dramatiq), "
        "side by side, with clusters started as subprocesses. Results: a table on stdout and JSON in --output.",
    )
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2, help="workers per cluster, both sides (default 2)")
    parser.add_argument("--jobs", type=int, default=5000, help="jobs per enqueue and drain run (default 5000)")
    parser.add_argument("--repetitions", type=int, default=3, help="runs per figure (default 3; median shown)")
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--latency-interval", type=float, default=0.02, help="seconds between latency enqueues")
    parser.add_argument("--growth", action="store_true", help="add the 1,000,000-row growth cases (slow)")
    parser.add_argument("--no-growth", action="store_true", help="skip even the 10,000-ready growth case")
    parser.add_argument("--growth-only", action="store_true", help="run only the growth cases (with --growth: all)")
    parser.add_argument(
        "--peers",
        action="store_true",
        help="add Celery and Dramatiq on Redis (needs .[bench]) and, on PostgreSQL, the race against pgqueuer, "
        "chancy, oban, procrastinate and django-tasks-db (each in a virtualenv under .venv-peers/, made from PyPI)",
    )
    parser.add_argument(
        "--race-only",
        action="store_true",
        help="run only the race of --peers (this queue on PostgreSQL, and on SQLite unless --database postgres)",
    )
    parser.add_argument(
        "--race-peers",
        default=",".join(race.PEERS),
        type=lambda text: [name for name in text.split(",") if name],
        help=f"peers of the race (default all: {','.join(race.PEERS)})",
    )
    parser.add_argument(
        "--race-default-jobs",
        type=int,
        default=200,
        help="jobs of the race's case at each side's default concurrency (some run one at a time; default 200)",
    )
    parser.add_argument("--smoke", action="store_true", help="a few hundred jobs, one run: only checks completion")
    parser.add_argument("--io-jobs", type=int, default=1000, help="jobs of the I/O-bound drain (default 1000)")
    parser.add_argument("--io-delay-ms", type=int, default=200, help="delay of each I/O response (default 200)")
    parser.add_argument("--priority-jobs", type=int, default=5000, help="no-op backlog of the priority case")
    parser.add_argument("--priority-critical", type=int, default=10, help="CRITICAL jobs enqueued during it")
    parser.add_argument("--memory-jobs", type=int, default=200, help="async jobs in flight in the memory case")
    parser.add_argument(
        "--memory-hold-ms", type=int, default=30_000, help="the longest each of them is held (released once measured)"
    )
    parser.add_argument("--no-concurrency", action="store_true", help="skip the I/O, priority and memory cases")
    parser.add_argument(
        "--cases",
        default="io,priority,memory",
        type=lambda text: [name for name in text.split(",") if name],
        help="which of the concurrency cases run (default io,priority,memory)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON goes")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server; the harness creates its own databases bench_jobqueue and bench_rawq there "
        f"(prefixed with ${databases.PREFIX_VARIABLE} when set)",
    )
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z0-9_]*", os.environ.get(databases.PREFIX_VARIABLE, "")):
        parser.error(f"{databases.PREFIX_VARIABLE} may hold only lower-case letters, digits and underscores")
    if set(args.cases) - {"io", "priority", "memory"}:
        parser.error(f"unknown cases {sorted(set(args.cases) - {'io', 'priority', 'memory'})}: io, priority, memory")
    unknown = set(args.race_peers) - set(race.PEERS)
    if unknown:
        parser.error(f"unknown race peers {sorted(unknown)}: choose among {','.join(race.PEERS)}")
    if args.race_only:
        # The race needs PostgreSQL; with `both` (the default) this queue also races on SQLite.
        args.peers = True
        args.database = "both" if args.database in ("both", "sqlite") else "postgres"
    if args.smoke:
        args.jobs, args.repetitions, args.latency_jobs, args.no_growth = 300, 1, 20, True
        args.growth = args.peers = False
        args.io_jobs, args.priority_jobs, args.memory_jobs = 40, 500, 40
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_probe(kind: str, side: str, url: str, args: dict[str, Any], env: dict[str, str], timeout: float) -> dict:
    """Run one measurement in a fresh Django process of `side`; its JSON result (ok False on failure)."""
    command = [sys.executable, "-m", "bench.probe", kind, json.dumps(args)]
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=databases.django_env(side, url, **env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"{kind} probe timed out after {timeout} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARKER):
            result: dict[str, Any] = json.loads(line[len(MARKER) :])
            if not result.get("ok"):
                result["stderr"] = done.stderr[-3000:]
            return result
    return {"ok": False, "error": f"{kind} probe exited {done.returncode}", "stderr": done.stderr[-3000:]}


def machine(pg_url: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "django": metadata.version("django"),
        "django-q2": metadata.version("django-q2"),
    }
    import sqlite3

    info["sqlite"] = sqlite3.sqlite_version
    try:
        import psycopg

        with psycopg.connect(f"{pg_url.rstrip('/')}/postgres", connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgresql"] = row[0] if row else "?"
    except Exception as exc:
        info["postgresql"] = f"unavailable ({exc})"
    return info


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    vendors = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    scratch = Path(tempfile.mkdtemp(prefix="jobqueue-bench-"))
    log(f"scratch directory (SQLite files, cluster logs): {scratch}")
    results: dict[str, Any] = {
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(args.pg_url),
        "options": {k: str(v) for k, v in vars(args).items()},
        "runs": {},
        "ceiling": {},
        "growth": {},
    }
    urls = {
        (vendor, side): databases.database_url(vendor, side, args.pg_url, scratch)
        for vendor in vendors
        for side in databases.SIDES
    }
    for (vendor, side), url in urls.items():
        log(f"{vendor}: creating and migrating the {side} database")
        databases.recreate(vendor, url)
        databases.migrate(side, url)
    timeout = max(120.0, args.jobs / 20)
    if args.race_only:
        return _race_only(args, results, urls[("postgres", "ours")], scratch, urls.get(("sqlite", "ours")))
    compare = not args.growth_only
    for vendor in vendors if compare else []:
        count = 500 if args.smoke else (20_000 if vendor == "sqlite" else 3_000)
        url = f"sqlite:///{scratch / 'ceiling.sqlite3'}" if vendor == "sqlite" else urls[(vendor, "ours")]
        results["ceiling"][vendor] = [ceiling.commits_per_second(vendor, url, count) for _ in range(args.repetitions)]
        log(f"{vendor}: ceiling {results['ceiling'][vendor]}")
    for rep in range(args.repetitions if compare else 0):
        for vendor in vendors:
            runs = results["runs"].setdefault(vendor, {})
            for key, (side, env) in SIDE_KEYS.items():
                probe_args = {
                    "jobs": args.jobs,
                    "workers": args.workers,
                    "latency_jobs": args.latency_jobs,
                    "interval": args.latency_interval,
                    "log": str(scratch / f"{vendor}-{key}-{rep}.log"),
                    "timeout": timeout,
                }
                result = run_probe(side, side, urls[(vendor, side)], probe_args, env, timeout * 3)
                runs.setdefault(key, []).append(result)
                log(f"{vendor} {key} rep {rep + 1}: {_brief(result)}")
    if not args.no_growth:
        cases = {"ready_10k": (10_000, 0)}
        if args.growth:
            cases |= {"ready_1m": (1_000_000, 0), "history_1m": (10_000, 1_000_000)}
        for vendor in vendors:
            for case, (ready, history) in cases.items():
                growth_args = {
                    "ready": ready,
                    "history": history,
                    "jobs": args.jobs,
                    "reps": args.repetitions,
                    "workers": args.workers,
                    "log": str(scratch / f"{vendor}-growth-{case}.log"),
                    "timeout": timeout,
                }
                result = run_probe("growth", "ours", urls[(vendor, "ours")], growth_args, {}, 3600)
                results["growth"].setdefault(vendor, {})[case] = result
                log(f"{vendor} growth {case}: {_brief(result)}")
    if args.peers and compare:
        from bench import peers

        results["peers"] = peers.run_all(args.jobs, args.repetitions, scratch)
    if compare and not args.no_concurrency:
        results |= concurrency.run(args, vendors, urls, scratch, run_probe)
    if args.peers and compare and "postgres" in vendors:
        results["race"] = race.run(args, urls[("postgres", "ours")], scratch, run_probe, urls.get(("sqlite", "ours")))
    raw_growth = results["growth"]
    results["growth_raw"] = raw_growth
    results["growth"] = {vendor: report.summarize_growth(cases) for vendor, cases in raw_growth.items()}
    results["summary"] = report.summarize(results)
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    failures = _failures(results)
    results["failures"] = failures
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str))
    print(report.table(results))
    if "race" in results:
        print(race.table(results["race"]))
        print(race.cpu_table(results["race"]))
    print(f"JSON written to {args.output}")
    for failure in failures:
        print(f"INCOMPLETE: {failure}", file=sys.stderr)
    if failures:
        log(f"cluster logs kept in {scratch}")
        return 1
    shutil.rmtree(scratch, ignore_errors=True)  # SQLite files of the growth cases reach a gigabyte
    return 0


def _race_only(
    args: argparse.Namespace, results: dict[str, Any], url: str, scratch: Path, sqlite_url: str | None
) -> int:
    """`--race-only`: the PostgreSQL race alone (this queue on SQLite beside it with `--database
    both`), its table on stdout and its JSON in --output."""
    results["race"] = race.run(args, url, scratch, run_probe, sqlite_url)
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    failures = race.failures(results["race"])
    results["failures"] = failures
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str))
    print(race.table(results["race"]))
    print(race.cpu_table(results["race"]))
    print(f"JSON written to {args.output}")
    for failure in failures:
        print(f"INCOMPLETE: {failure}", file=sys.stderr)
    if not failures:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failures else 0


def _brief(result: dict[str, Any]) -> str:
    if not result.get("ok"):
        return f"FAILED: {result.get('error')}\n{result.get('stderr', '')}"
    keys = ("single_enqueue_per_s", "bulk_enqueue_per_s", "drain_per_s", "start_p50_ms", "finish_p50_ms")
    shown = {k: round(result[k], 1) for k in keys if isinstance(result.get(k), int | float)}
    if "reps" in result:
        shown = {"drain_per_s": [round(r.get("drain_per_s") or 0) for r in result["reps"]]}
    return json.dumps(shown)


def _failures(results: dict[str, Any]) -> list[str]:
    """Every run that did not complete all of its jobs (the smoke test's only assertion)."""
    failures = []
    for vendor, runs in results["runs"].items():
        for key, reps in runs.items():
            for index, result in enumerate(reps):
                if not result.get("ok") or result.get("drain_completed") != result.get("drain_queued"):
                    failures.append(f"{vendor} {key} run {index + 1}: {result.get('error', 'incomplete')}")
    for vendor, cases in results.get("growth_raw", {}).items():
        for case, result in cases.items():
            if not result.get("ok"):
                failures.append(f"{vendor} growth {case}: {result.get('error')}")
    for name, reps in results.get("peers", {}).items():
        failures += [f"peer {name}: {r.get('error')}" for r in reps if not r.get("ok")]
    return failures + concurrency.failures(results) + race.failures(results.get("race", {}))
