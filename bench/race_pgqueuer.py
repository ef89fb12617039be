"""pgqueuer in the race (asyncpg driver): job rows are deleted when done, a log table keeps 3 rows per job."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from bench import race_peer

ENTRYPOINT = "race"


async def _enqueue(dsn: str, jobs: int) -> None:
    import asyncpg
    from pgqueuer import AsyncpgDriver, Queries

    conn = await asyncpg.connect(dsn)
    queries = Queries(AsyncpgDriver(conn))
    await queries.install()
    for start in range(0, jobs, 1000):
        size = min(1000, jobs - start)
        await queries.enqueue([ENTRYPOINT] * size, [None] * size, [0] * size)
    await conn.close()


def enqueue(dsn: str, jobs: int, kind: str, arg: Any) -> None:
    asyncio.run(_enqueue(dsn, jobs))


async def _work(dsn: str, concurrency: int | None) -> None:
    import asyncpg
    from pgqueuer import Job, PgQueuer

    kind, arg = os.environ["RACE_KIND"], os.environ["RACE_ARG"]
    manager = PgQueuer.from_asyncpg_connection(await asyncpg.connect(dsn))

    @manager.entrypoint(ENTRYPOINT)
    async def race(job: Job) -> None:
        await race_peer.body(kind, arg)

    # Its default: no cap on jobs in flight; "100 in flight" caps each of the 2 processes at 50.
    await manager.run(max_concurrent_tasks=concurrency)


def work(dsn: str, kind: str, arg: Any, concurrency: int | None) -> None:
    asyncio.run(_work(dsn, concurrency))
