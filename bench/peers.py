"""Peers on Redis (optional, `--peers`): Celery (prefork, 2 processes) and Dramatiq (2 processes x
8 threads) draining the same number of no-op tasks, enqueued before the workers start, and
the same I/O-bound drain as ours (each task one GET of the delay server).

Only our own keys are touched (prefix `jobqueue-bench`): the Redis server is shared.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.peer_tasks import PREFIX, REDIS_URL

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = {
    "celery": [
        "-m", "celery", "-A", "bench.peer_celery", "worker", "-P", "prefork", "-c", "2", "-l", "WARNING",
        "--without-heartbeat", "--without-gossip", "--without-mingle",
    ],
    "dramatiq": ["-m", "dramatiq", "bench.peer_dramatiq", "--processes", "2", "--threads", "8"],
}  # fmt: skip


def _client() -> Any:
    import redis

    return redis.Redis.from_url(REDIS_URL)


def _clean(peer: str) -> None:
    client = _client()
    for key in client.scan_iter(f"{PREFIX}*"):
        client.delete(key)
    if peer == "celery":
        from bench.peer_celery import app

        app.control.purge()


def _enqueue(peer: str, count: int, url: str | None) -> float:
    """Queue `count` no-op tasks, or with `url` I/O tasks that each GET it."""
    began = time.perf_counter()
    if peer == "celery":
        from bench import peer_celery

        for _ in range(count):
            peer_celery.noop.delay() if url is None else peer_celery.io.delay(url)
    else:
        from bench import peer_dramatiq

        for _ in range(count):
            peer_dramatiq.noop.send() if url is None else peer_dramatiq.io.send(url)
    return count / (time.perf_counter() - began)


def run_once(peer: str, count: int, log: Path, timeout: float = 300, url: str | None = None) -> dict[str, Any]:
    """One drain of `count` tasks (no-op, or I/O on `url`) by the peer's workers started afterwards."""
    _clean(peer)
    counter = peer if url is None else f"{peer}-io"
    result: dict[str, Any] = {"enqueue_per_s": _enqueue(peer, count, url), "drain_queued": count}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, *COMMANDS[peer]], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        client = _client()
        deadline = time.monotonic() + timeout
        try:
            while int(client.get(f"{PREFIX}:{counter}:done") or 0) < count and time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
    done = int(client.get(f"{PREFIX}:{counter}:done") or 0)
    first = float(client.get(f"{PREFIX}:{counter}:first") or 0)
    last = float(client.get(f"{PREFIX}:{counter}:last") or 0)
    result.update(drain_completed=done, ok=done == count)
    if done > 1 and last > first:
        result["drain_per_s"] = (done - 1) / (last - first)  # first finish to last finish
    if done != count:
        result["error"] = f"{done} of {count} tasks completed"
    _clean(peer)
    return result


def run_all(count: int, repetitions: int, scratch: Path) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {"celery": [], "dramatiq": []}
    for rep in range(repetitions):
        for peer in results:
            outcome = run_once(peer, count, scratch / f"peer-{peer}-{rep}.log")
            print(f"[bench] peer {peer} rep {rep + 1}: {outcome}", file=sys.stderr, flush=True)
            results[peer].append(outcome)
    return results


def run_io(count: int, repetitions: int, scratch: Path, url: str, timeout: float) -> dict[str, list[dict[str, Any]]]:
    """The I/O-bound drain on each peer: `count` tasks, each one GET of the delay server's `url`."""
    results: dict[str, list[dict[str, Any]]] = {"celery": [], "dramatiq": []}
    for rep in range(repetitions):
        for peer in results:
            outcome = run_once(peer, count, scratch / f"peer-io-{peer}-{rep}.log", timeout, url)
            print(f"[bench] peer {peer} I/O rep {rep + 1}: {outcome}", file=sys.stderr, flush=True)
            results[peer].append(outcome)
    return results
