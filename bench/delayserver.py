"""A local HTTP server that answers every request after a delay: what the I/O-bound cases wait on.

Stdlib only (asyncio streams), HTTP/1.1 with keep-alive, one coroutine per connection, so it
holds thousands of connections at once. `GET /delay?ms=200` answers 200 after 200 ms;
`GET /delay?ms=30000&hold=1` answers after 30 s or as soon as `GET /release` is called;
`GET /stats` answers at once with the requests in progress, the peak and the total served;
`GET /reset` zeroes the peak and the total. The harness runs it as its own process
(`python -m bench.delayserver`, which prints `PORT <n>`) through `DelayServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import resource
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
STATS = {"active": 0, "peak": 0, "served": 0}
_release: asyncio.Event | None = None


def _answer(body: bytes, keep_alive: bool) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode() + body


async def _respond(target: str) -> bytes:
    global _release
    if _release is None:
        _release = asyncio.Event()
    parts = urlsplit(target)
    if parts.path == "/release":
        _release.set()
        _release = asyncio.Event()
        return b"{}"
    if parts.path == "/stats":
        return json.dumps(STATS).encode()
    if parts.path == "/reset":
        STATS.update(peak=STATS["active"], served=0)
        return b"{}"
    query = parse_qs(parts.query)
    delay = float(query.get("ms", ["200"])[0]) / 1000
    STATS["active"] += 1
    STATS["peak"] = max(STATS["peak"], STATS["active"])
    try:
        if query.get("hold"):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_release.wait(), delay)
        else:
            await asyncio.sleep(delay)
    finally:
        STATS["active"] -= 1
    STATS["served"] += 1
    return b'{"ok": true}'


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            request_line = await reader.readline()
            if not request_line:
                return
            keep_alive = not request_line.endswith(b"HTTP/1.0\r\n")
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                elif name.strip().lower() == "connection":
                    keep_alive = value.strip().lower() != "close"
            if length:
                await reader.readexactly(length)
            target = request_line.split()[1].decode("latin-1") if len(request_line.split()) > 1 else "/"
            writer.write(_answer(await _respond(target), keep_alive))
            await writer.drain()
            if not keep_alive:
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def serve() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one descriptor per held connection
    server = await asyncio.start_server(_connection, "127.0.0.1", 0, backlog=4096)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


class DelayServer:
    """The server as a child process of the harness: `with DelayServer() as server: server.url`."""

    def __enter__(self) -> DelayServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.delayserver"], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"the delay server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def call(base_url: str, path: str) -> bytes:
    """GET `path` of the server at `base_url` (http://127.0.0.1:<port>): `/stats`, `/reset`
    (zero the peak and the total) or `/release` (answer every held request now)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def stats(base_url: str) -> dict[str, Any]:
    """The server's counters: requests in progress (`active`), `peak` and `served`."""
    result: dict[str, Any] = json.loads(call(base_url, "/stats"))
    return result


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
