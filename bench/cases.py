"""The plan of the concurrency cases: I/O-bound drain, priority under load, memory.

Called by bench.cli after the no-op comparison (which stays as it was). Each measurement runs
in a fresh Django process through the harness's `run_probe`; the delay server they all wait
on is one child process of the harness, started here.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import peers
from bench.delayserver import DelayServer

Probe = Callable[[str, str, str, dict[str, Any], dict[str, str], float], dict[str, Any]]
# I/O side key -> (probe kind, Django side, extra environment, extra probe arguments).
IO_SIDES: dict[str, tuple[str, str, dict[str, str], dict[str, Any]]] = {
    "ours_async": ("io_ours", "ours", {}, {"type_name": "bench_io_async"}),
    "ours_sync": ("io_ours", "ours", {}, {"type_name": "bench_io_sync"}),
    "rawq_tuned_sync": ("io_rawq", "rawq", {"BENCH_RAWQ_MODE": "tuned"}, {}),
}


PRIORITY_SHOWN = ("critical_start_p50_ms", "critical_start_p95_ms", "queued_behind_min")


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _brief(result: dict[str, Any], keys: tuple[str, ...]) -> str:
    if not result.get("ok"):
        return f"FAILED: {result.get('error')}\n{result.get('stderr', '')}"
    return json.dumps({k: round(result[k], 2) for k in keys if isinstance(result.get(k), int | float)})


def io_timeout(jobs: int, delay_ms: int, workers: int) -> float:
    """Time for the slowest side (one job at a time per worker) with a wide margin."""
    return 60 + 3 * jobs * delay_ms / 1000 / max(1, workers)


def run(args: Any, vendors: list[str], urls: dict[tuple[str, str], str], scratch: Path, probe: Probe) -> dict[str, Any]:
    """Every repetition of the three cases on every database, and the peers' I/O drain."""
    out: dict[str, Any] = {"io": {}, "priority": {}, "memory": {}}
    timeout = io_timeout(args.io_jobs, args.io_delay_ms, args.workers)
    with DelayServer() as server:
        _log(f"delay server at {server.url}")
        for rep in range(args.repetitions):
            for vendor in vendors:
                for key, (kind, side, env, extra) in IO_SIDES.items() if "io" in args.cases else ():
                    probe_args = {
                        "jobs": args.io_jobs,
                        "workers": args.workers,
                        "server": server.url,
                        "delay_ms": args.io_delay_ms,
                        "log": str(scratch / f"{vendor}-io-{key}-{rep}.log"),
                        "timeout": timeout,
                        **extra,
                    }
                    result = probe(kind, side, urls[(vendor, side)], probe_args, env, timeout + 120)
                    out["io"].setdefault(vendor, {}).setdefault(key, []).append(result)
                    _log(f"{vendor} I/O {key} rep {rep + 1}: {_brief(result, ('drain_per_s',))}")
                if "priority" in args.cases:
                    priority_args = {
                        "jobs": args.priority_jobs,
                        "critical": args.priority_critical,
                        "workers": args.workers,
                        "log": str(scratch / f"{vendor}-priority-{rep}.log"),
                        "timeout": max(120.0, args.priority_jobs / 20),
                    }
                    result = probe(
                        "priority", "ours", urls[(vendor, "ours")], priority_args, {}, 3 * priority_args["timeout"]
                    )
                    out["priority"].setdefault(vendor, []).append(result)
                    _log(f"{vendor} priority rep {rep + 1}: {_brief(result, PRIORITY_SHOWN)}")
                if "memory" in args.cases:
                    memory_args = {
                        "jobs": args.memory_jobs,
                        "workers": args.workers,
                        "server": server.url,
                        "hold_ms": args.memory_hold_ms,
                        "log": str(scratch / f"{vendor}-memory-{rep}.log"),
                        "timeout": 120.0,
                    }
                    result = probe("memory", "ours", urls[(vendor, "ours")], memory_args, {}, 400)
                    out["memory"].setdefault(vendor, []).append(result)
                    _log(f"{vendor} memory rep {rep + 1}: {_brief(result, ('rss_ratio', 'pss_ratio'))}")
        if args.peers and "io" in args.cases:
            url = f"{server.url}/delay?ms={args.io_delay_ms}"
            out["io_peers"] = peers.run_io(args.io_jobs, args.repetitions, scratch, url, timeout)
    return out


def failures(results: dict[str, Any]) -> list[str]:
    """Every run of these cases that failed or did not complete all of its jobs."""
    found = []
    for vendor, sides in results.get("io", {}).items():
        for key, reps in sides.items():
            for index, result in enumerate(reps):
                if not result.get("ok") or result.get("drain_completed") != result.get("drain_queued"):
                    found.append(f"{vendor} I/O {key} run {index + 1}: {result.get('error', 'incomplete')}")
    for case in ("priority", "memory"):
        for vendor, reps in results.get(case, {}).items():
            found += [f"{vendor} {case} run {i + 1}: {r.get('error')}" for i, r in enumerate(reps) if not r.get("ok")]
    for name, reps in results.get("io_peers", {}).items():
        found += [f"peer {name} I/O: {r.get('error')}" for r in reps if not r.get("ok")]
    return found
