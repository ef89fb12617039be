"""The HTTP calls of the I/O-bound cases, shared by every side: our job types, raw django-q2's
function, and the Celery and Dramatiq tasks. The only bench module that uses httpx.

Sync callers share one `httpx.Client` per process, made on first use (after the fork of a
worker, never inherited). Async callers open one `httpx.AsyncClient` per job: a worker runs
each unit on a fresh event loop, and a client (its pool) belongs to the loop it was used on.
The TLS context is made once per process and handed to every client, so a plain-HTTP job
does not pay for loading the CA bundle each time.
"""

from __future__ import annotations

import ssl

import httpx

TIMEOUT = httpx.Timeout(60.0)
_tls: ssl.SSLContext | None = None
_client: httpx.Client | None = None


def _context() -> ssl.SSLContext:
    global _tls
    if _tls is None:
        _tls = ssl.create_default_context()
    return _tls


def get_sync(url: str) -> int:
    """GET `url` with this process's shared client; raise on a non-2xx status."""
    global _client
    if _client is None:
        _client = httpx.Client(timeout=TIMEOUT, verify=_context())
    response = _client.get(url)
    response.raise_for_status()
    return response.status_code


async def get_async(url: str) -> int:
    """GET `url` with a client of its own; raise on a non-2xx status."""
    async with httpx.AsyncClient(timeout=TIMEOUT, verify=_context()) as client:
        response = await client.get(url)
    response.raise_for_status()
    return response.status_code
