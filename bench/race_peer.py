"""One PostgreSQL-native peer's side of the race: `python -m bench.race_peer PEER ACTION JSON-ARGS`.

Runs in the peer's own virtualenv (made by `bench.race`), so it imports the standard library
and the peer's package only, never Django settings of ours. ACTION is `enqueue` (install the
peer's schema, queue `jobs` jobs, print the rate) or `work` (one worker process until SIGTERM).

Every job body reports its start and its finish with one UDP datagram each to the harness
(`report` port): the peers keep different tables, so the times are taken the same way for all
of them, when the job's function begins and returns, and the harness counts the datagrams.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import socket
import sys
import time
from typing import Any

_socket: socket.socket | None = None
_target: tuple[str, int] | None = None
_client: Any = None


def configure(report_port: int) -> None:
    global _socket, _target
    _socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _target = ("127.0.0.1", report_port)


def close() -> None:
    global _socket, _target
    if _socket is not None:
        _socket.close()
    _socket = _target = None


def _send(what: bytes) -> None:
    if _socket is not None and _target is not None:
        _socket.sendto(what, _target)


def started() -> None:
    """Tell the harness that one job's function began (the harness keeps the first)."""
    _send(b"s")


def finished() -> None:
    """Tell the harness that one job's function returned (non-blocking, one datagram)."""
    _send(b"f")


async def body(kind: str, arg: Any) -> None:
    """The job itself: nothing, an `asyncio.sleep` of `arg` ms, or a GET of the delay server `arg`."""
    global _client
    started()
    if kind == "sleep":
        await asyncio.sleep(int(arg) / 1000)
    elif kind == "http":
        if _client is None:
            import httpx

            # One client per worker process: every peer runs its async jobs on one long-lived loop.
            _client = httpx.AsyncClient(timeout=60.0, limits=httpx.Limits(max_connections=None))
        (await _client.get(arg)).raise_for_status()
    finished()


def sync_body(kind: str, arg: Any) -> None:
    """The same job for peers whose workers call plain functions (no-op only)."""
    if kind != "noop":
        raise ValueError(f"a sync body runs no-op jobs only, not {kind!r}")
    started()
    finished()


def main(argv: list[str]) -> int:
    peer, action, args = argv[0], argv[1], json.loads(argv[2])
    os.environ["RACE_KIND"], os.environ["RACE_ARG"] = args["kind"], str(args.get("arg", ""))
    os.environ["RACE_DSN"] = args["dsn"]  # read at import by peers configured on import (Django)
    module = importlib.import_module(f"bench.race_{peer}")
    if action == "enqueue":
        began = time.perf_counter()
        module.enqueue(args["dsn"], args["jobs"], args["kind"], args.get("arg"))
        print(json.dumps({"enqueue_per_s": args["jobs"] / (time.perf_counter() - began)}), flush=True)
        return 0
    # The peer modules import `bench.race_peer`, a module other than this `__main__`: configure that one.
    importlib.import_module("bench.race_peer").configure(args["report"])
    module.work(args["dsn"], args["kind"], args.get("arg"), args.get("concurrency"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
