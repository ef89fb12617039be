"""The job types the benchmark drains through our broker and runner.

`bench_noop` measures the queue's own cost per job; `bench_sleep_async` awaits `asyncio.sleep`
(the I/O wait of the PostgreSQL race, `bench.race`); `bench_io_async` and `bench_io_sync` each
wait on one response of the harness's delay server (`bench.delayserver`), the first on the
worker's event loop, the second blocking its worker process.
"""

import asyncio

from bench.benchjobs import http
from jobqueue import job


@job(max_attempts=1)
def bench_noop() -> None:
    """Do nothing: what is measured is the queue's own cost per job."""


@job(max_attempts=1, timeout=60)
async def bench_io_async(url: str) -> None:
    """Await one delayed response (many at once per worker)."""
    await http.get_async(url)


@job(max_attempts=1, timeout=60)
async def bench_sleep_async(ms: int) -> None:
    """Await `asyncio.sleep` for `ms` milliseconds: the wait every peer of the PostgreSQL race runs too."""
    await asyncio.sleep(ms / 1000)


@job(max_attempts=1, timeout=60)
def bench_io_sync(url: str) -> None:
    """Wait for one delayed response, blocking the worker (one at a time per worker)."""
    http.get_sync(url)


@job(max_attempts=1, partition="p", enabled=False)
def bench_partitioned(p: str) -> None:
    """Do nothing, partitioned by `p` (no limits: the claim's round robin and its cost are
    measured). Off unless bench.partitions turns it on: the other cases' claims would read
    its (empty) queue too."""
