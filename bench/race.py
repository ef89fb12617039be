"""The PostgreSQL-native race (`python -m bench --peers`): this queue against pgqueuer, chancy,
oban (Python), procrastinate and django-tasks-db on the same PostgreSQL server.

Each peer runs from its own virtualenv under `.venv-peers/` (git-ignored), made on first use
from PyPI with the pinned versions below, and against its own database (`race_<peer>`,
prefixed like the harness's own). Every case queues its jobs before the workers start, runs
2 worker processes (`--workers`), and takes the rate from the first job's start to the
last job's finish: peers report each start and finish with a UDP datagram (`bench.race_peer`),
ours from its Attempt rows. Cases: no-op jobs; `asyncio.sleep` jobs with 100 in flight (50 per process)
and at each side's default concurrency; GETs of the delay server with 100 in flight; and
`asyncio.sleep` jobs with this queue's ASYNC_CONCURRENCY raised to 500 against pgqueuer
uncapped (its default). With `--database both` this queue also runs every case on SQLite
(`ours_sqlite`, same code, same workers), so the issue's SQLite targets are read in the same
rounds. Repetitions are interleaved (every side once per case per round), ratios taken per
round against this queue on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import databases

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venv-peers"


class Peer:
    def __init__(self, requirements: list[str], history: str, default: str, python: str = "3.11") -> None:
        self.requirements, self.history, self.default, self.python = requirements, history, default, python


PEERS = {
    "pgqueuer": Peer(
        ["pgqueuer==1.6.0", "asyncpg==0.31.0", "httpx==0.28.1"],
        "a log table (3 rows per job); job rows deleted",
        "no cap in flight",
    ),
    "chancy": Peer(["chancy==0.26.0", "httpx==0.28.1"], "job rows", "100 per process (asyncio executor)"),
    "oban": Peer(["oban==0.7.0", "httpx==0.28.1"], "job rows (pruned after a day)", "limit 10 per process", "3.12"),
    "procrastinate": Peer(["procrastinate==3.10.0", "httpx==0.28.1"], "job + event rows", "1 at a time per process"),
    "djtasks": Peer(
        ["django-tasks-db==0.13.0", "django-tasks==0.12.0", "Django==5.2.20", "psycopg[binary]==3.3.9"],
        "result rows",
        "1 at a time per process",
    ),
}
LABELS = {
    "ours": "this queue (PostgreSQL)",
    "ours_sqlite": "this queue (SQLite)",
    "djtasks": "django-tasks-db",
    "oban": "oban (Python)",
}
# Case -> (what the job does, jobs option, in flight per worker process or None for the default).
CASES: dict[str, tuple[str, str, int | None]] = {
    "noop": ("noop", "jobs", None),
    "sleep_100": ("sleep", "io_jobs", 50),
    "http_100": ("http", "io_jobs", 50),
    "sleep_default": ("sleep", "race_default_jobs", None),
    "sleep_500": ("sleep", "io_jobs", None),
}
ONE_AT_A_TIME = {"djtasks"}  # no concurrency setting: its "100 in flight" cases do not exist
# This queue's ASYNC_CONCURRENCY (per worker) in a case, when not its default of 50.
OURS_CONCURRENCY = {"sleep_500": 500}
# Cases only some peers run: ours at 500 per worker is set against pgqueuer uncapped.
ONLY = {"sleep_500": {"pgqueuer"}}
# This queue on SQLite, beside it on PostgreSQL (`--database both`).
OURS_SQLITE = "ours_sqlite"


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _python(version: str) -> str | None:
    """An interpreter of at least `version` (oban needs 3.12): on PATH, or one pyenv installed."""
    import shutil

    major, minor = (int(x) for x in version.split("."))
    found = [str(root / "bin" / "python") for root in sorted((Path.home() / ".pyenv" / "versions").glob(f"{major}.*"))]
    found += [p for n in range(minor, minor + 3) if (p := shutil.which(f"python{major}.{n}"))]
    for candidate in found:
        # A pyenv shim on PATH may exist and still fail: ask the interpreter itself.
        check = subprocess.run(
            [candidate, "-c", f"import sys; raise SystemExit(sys.version_info < ({major}, {minor}))"],
            capture_output=True,
        )
        if check.returncode == 0:
            return candidate
    return None


def venv(name: str) -> Path:
    """The peer's interpreter, its virtualenv made (or remade when its pins changed) first."""
    peer = PEERS[name]
    where = VENVS / name
    python, marker = where / "bin" / "python", where / "requirements.txt"
    wanted = "\n".join(peer.requirements)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    base = _python(peer.python)
    if base is None:
        raise RuntimeError(f"{name} needs Python >= {peer.python}: install one (e.g. `pyenv install {peer.python}`)")
    _log(f"making the {name} virtualenv ({', '.join(peer.requirements)})")
    subprocess.run([base, "-m", "venv", "--clear", str(where)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *peer.requirements], check=True)
    marker.write_text(wanted)
    return python


class CpuMeter:
    """The machine's busy CPU seconds (all cores, from /proc/stat), sampled every 20 ms, so
    that the CPU a drain cost can be read over its own window, first start to last finish:
    the same account for every side (its workers, PostgreSQL's backends, the harness's own
    small share), without the start-up of its processes. None where /proc/stat is missing."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        if Path("/proc/stat").exists():
            self._thread.start()

    def _busy(self) -> float:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return (sum(fields[:8]) - idle) / self.tick

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self._busy()))
            self._stop.wait(0.02)

    def between(self, start: float, end: float) -> float | None:
        """Busy CPU seconds between two epoch times, interpolated between samples."""
        samples = self.samples[:]
        if len(samples) < 2 or end <= start or not samples[0][0] <= start or not end <= samples[-1][0]:
            return None
        return self._at(samples, end) - self._at(samples, start)

    @staticmethod
    def _at(samples: list[tuple[float, float]], when: float) -> float:
        for (t0, b0), (t1, b1) in itertools.pairwise(samples):
            if t0 <= when <= t1:
                return b0 + (b1 - b0) * ((when - t0) / (t1 - t0) if t1 > t0 else 0.0)
        return samples[-1][1]

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def cpu_per_job(meter: CpuMeter, result: dict[str, Any], jobs: int) -> None:
    """Add the machine's CPU milliseconds per job over the run's window to its result."""
    window = result.get("window")
    if not result.get("ok") or not window:
        return
    busy = meter.between(float(window[0]), float(window[1]))
    if busy is not None:
        result["cpu_ms_per_job"] = busy * 1000 / jobs


class Tally:
    """Counts the finish datagrams of the current run and keeps the first and last arrival times."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.count, self.first, self.last, self.first_start = 0, 0.0, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                what = self.sock.recv(16)
            except TimeoutError:
                continue
            now = time.time()
            if what == b"s":
                self.first_start = self.first_start or now
                continue
            self.count += 1
            self.first = self.first or now
            self.last = now

    def reset(self) -> None:
        self.count, self.first, self.last, self.first_start = 0, 0.0, 0.0, 0.0

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _dsn(pg_url: str, name: str) -> str:
    base = pg_url.rstrip("/")
    return f"{base}/{os.environ.get(databases.PREFIX_VARIABLE, '')}race_{name}"


def run_peer(name: str, case: str, jobs: int, arg: Any, args: Any, tally: Tally, log: Path) -> dict[str, Any]:
    """One drain of `jobs` jobs by the peer's 2 worker processes, started after the jobs are queued."""
    kind, _, per_process = CASES[case]
    python, dsn = venv(name), _dsn(args.pg_url, name)
    databases.recreate("postgresql", dsn)
    spec = {"dsn": dsn, "jobs": jobs, "kind": kind, "arg": arg, "report": tally.port, "concurrency": per_process}
    command = [str(python), "-m", "bench.race_peer", name]
    queued = subprocess.run(
        [*command, "enqueue", json.dumps(spec)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    if queued.returncode:
        return {"ok": False, "error": f"enqueue exited {queued.returncode}", "stderr": queued.stderr[-2000:]}
    result: dict[str, Any] = {"ok": True, "drain_queued": jobs, **json.loads(queued.stdout.splitlines()[-1])}
    tally.reset()
    timeout = 60 + jobs * (0.25 if kind == "noop" else 0.15)
    with log.open("ab") as out:
        workers = [
            subprocess.Popen(
                [*command, "work", json.dumps(spec)],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for _ in range(args.workers)
        ]
        deadline = time.monotonic() + timeout
        try:
            while tally.count < jobs and time.monotonic() < deadline and any(w.poll() is None for w in workers):
                time.sleep(0.05)
        finally:
            for worker in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait(5)
    result["drain_completed"] = tally.count
    if tally.count >= jobs and tally.last > tally.first_start:
        # First job's start to last job's finish, as ours (`drain_per_s`) from its Attempt rows.
        result["drain_per_s"] = jobs / (tally.last - tally.first_start)
        result["window"] = [tally.first_start, tally.last]
        if tally.last > tally.first:
            result["drain_finish_to_finish_per_s"] = (jobs - 1) / (tally.last - tally.first)
    else:
        result.update(ok=False, error=f"{tally.count} of {jobs} jobs finished (log: {log})")
    return result


def _ours(case: str, arg: Any) -> tuple[str, dict[str, Any]]:
    kind = CASES[case][0]
    if kind == "noop":
        return "bench_noop", {}
    if kind == "sleep":
        return "bench_sleep_async", {"ms": arg}
    return "bench_io_async", {"url": arg}


def run(
    args: Any,
    pg_ours_url: str,
    scratch: Path,
    probe: Callable[..., dict[str, Any]],
    sqlite_ours_url: str | None = None,
) -> dict[str, Any]:
    """Every round: every case, this queue (on PostgreSQL, then on SQLite when `sqlite_ours_url`
    is given) then each peer. Results per case and side, one entry per round."""
    from bench.delayserver import DelayServer

    out: dict[str, Any] = {"versions": {n: p.requirements for n, p in PEERS.items()}, "cases": {}}
    out["history"] = {n: p.history for n, p in PEERS.items()} | {"ours": "Job + Attempt rows"}
    out["defaults"] = {n: p.default for n, p in PEERS.items()} | {"ours": "ASYNC_CONCURRENCY 50 per worker"}
    ours_sides = {"ours": pg_ours_url}
    if sqlite_ours_url:
        ours_sides[OURS_SQLITE] = sqlite_ours_url
        out["history"][OURS_SQLITE] = out["history"]["ours"]
        out["defaults"][OURS_SQLITE] = out["defaults"]["ours"]
    peers = []
    for name in (n for n in PEERS if n in args.race_peers):
        try:
            venv(name)
            peers.append(name)
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            out.setdefault("skipped", {})[name] = str(exc)
            _log(f"race: {name} left out: {exc}")
    tally, meter = Tally(), CpuMeter()
    with DelayServer() as server:
        try:
            for rep in range(args.repetitions):
                for case, (kind, count_option, _) in CASES.items():
                    jobs = getattr(args, count_option)
                    arg = {
                        "noop": None,
                        "sleep": args.io_delay_ms,
                        "http": f"{server.url}/delay?ms={args.io_delay_ms}",
                    }[kind]
                    runs = out["cases"].setdefault(case, {})
                    type_name, payload = _ours(case, arg)
                    env = {}
                    if case in OURS_CONCURRENCY:
                        env["BENCH_ASYNC_CONCURRENCY"] = str(OURS_CONCURRENCY[case])
                    for side, url in ours_sides.items():
                        probe_args = {
                            "jobs": jobs,
                            "workers": args.workers,
                            "type_name": type_name,
                            "payload": payload,
                            "log": str(scratch / f"race-{side}-{case}-{rep}.log"),
                            "timeout": 60 + jobs * 0.1,
                        }
                        result = probe("race_ours", "ours", url, probe_args, env, 120 + jobs * 0.3)
                        cpu_per_job(meter, result, jobs)
                        runs.setdefault(side, []).append(result)
                        _log(f"race {case} {side} rep {rep + 1}: {result.get('drain_per_s') or result.get('error')}")
                    for name in peers:
                        if case.endswith("_100") and name in ONE_AT_A_TIME:
                            continue
                        if case in ONLY and name not in ONLY[case]:
                            continue
                        log = scratch / f"race-{name}-{case}-{rep}.log"
                        result = run_peer(name, case, jobs, arg, args, tally, log)
                        cpu_per_job(meter, result, jobs)
                        runs.setdefault(name, []).append(result)
                        _log(f"race {case} {name} rep {rep + 1}: {result.get('drain_per_s') or result.get('error')}")
        finally:
            tally.close()
            meter.close()
    out["summary"] = summarize(out["cases"])
    return out


def _rate(result: dict[str, Any], side: str) -> float | None:
    value = result.get("drain_per_s") if result.get("ok") else None
    return float(value) if isinstance(value, int | float) else None


def summarize(cases: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per case and side: the rates of every round, each peer's ratio to ours within its round, medians."""
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for case, sides in cases.items():
        ours = [_rate(r, "ours") for r in sides.get("ours", [])]
        for side, reps in sides.items():
            rates = [_rate(r, side) for r in reps]
            ratios = [p / o if p and o else None for p, o in zip(rates, ours, strict=False)]
            known = [r for r in rates if r]
            known_ratios = [r for r in ratios if r]
            cpu = [r["cpu_ms_per_job"] for r in reps if r.get("ok") and r.get("cpu_ms_per_job")]
            summary.setdefault(case, {})[side] = {
                "per_s": rates,
                "ratio_to_ours": ratios,
                "median_per_s": statistics.median(known) if known else None,
                "median_ratio": statistics.median(known_ratios) if known_ratios else None,
                "median_cpu_ms_per_job": statistics.median(cpu) if cpu else None,
            }
    return summary


def table(race: dict[str, Any]) -> str:
    """Markdown: one row per side, one column per case (median jobs/s, and the ratio to ours per round)."""

    def cell(side: str, entry: dict[str, Any]) -> str | None:
        if entry["median_per_s"] is None:
            return None
        shown = f"{entry['median_per_s']:,.0f}/s"
        if side != "ours":
            shown += " (" + ", ".join(f"{r:.2f}" if r else "-" for r in entry["ratio_to_ours"]) + " x)"
        return shown

    return _markdown(race, ["system", "history kept"], lambda side: [race["history"].get(side, "")], cell)


def cpu_table(race: dict[str, Any]) -> str:
    """Markdown: the machine's CPU milliseconds per job over each drain's window, median of the
    rounds, one row per side; what a side's rate on these cores is bound by."""

    def cell(side: str, entry: dict[str, Any]) -> str | None:
        value = entry.get("median_cpu_ms_per_job")
        return None if value is None else f"{value:.3f}"

    return _markdown(race, ["system, CPU ms per job"], lambda side: [], cell)


def _markdown(
    race: dict[str, Any],
    heads: list[str],
    leading: Callable[[str], list[str]],
    cell: Callable[[str, dict[str, Any]], str | None],
) -> str:
    """A table of one row per side that ran (this queue first), one column per case."""
    summary = race["summary"]
    cases = list(summary)
    lines = [
        "| " + " | ".join([*heads, *cases]) + " |",
        "| " + " | ".join(["---"] * len(heads) + ["---:"] * len(cases)) + " |",
    ]
    for side in ["ours", OURS_SQLITE, *PEERS]:
        cells = [(cell(side, summary[case][side]) if side in summary[case] else None) or "—" for case in cases]
        if all(shown == "—" for shown in cells):
            continue  # a side this run did not have (no SQLite, a peer left out)
        lines.append("| " + " | ".join([LABELS.get(side, side), *leading(side), *cells]) + " |")
    return "\n".join(lines)


def failures(race: dict[str, Any]) -> list[str]:
    found = []
    for case, sides in race.get("cases", {}).items():
        for side, reps in sides.items():
            found += [
                f"race {case} {side} run {i + 1}: {r.get('error')}" for i, r in enumerate(reps) if not r.get("ok")
            ]
    return found
