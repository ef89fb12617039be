"""oban (the Python port, oban-bg/oban-py) in the race: job rows kept as history (pruned after a day)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from bench import race_peer

QUEUE = "race"
# oban has no default limit: a queue is always declared with one. 10 is the limit of its docs' examples.
DEFAULT_LIMIT = 10


def _worker() -> Any:
    from oban import worker

    @worker(queue=QUEUE, max_attempts=1)
    class RaceJob:
        async def process(self, job: Any) -> None:
            await race_peer.body(os.environ["RACE_KIND"], os.environ["RACE_ARG"])

    return RaceJob


RaceJob: Any = None


def _registered() -> Any:
    global RaceJob
    if RaceJob is None:
        RaceJob = _worker()
    return RaceJob


async def _enqueue(dsn: str, jobs: int) -> None:
    from oban import Oban, schema

    job_class = _registered()
    pool = await Oban.create_pool(dsn)
    await schema.install(pool)
    oban = Oban(pool=pool)
    for start in range(0, jobs, 1000):
        await oban.enqueue_many([job_class.new({}) for _ in range(min(1000, jobs - start))])
    await pool.close()


def enqueue(dsn: str, jobs: int, kind: str, arg: Any) -> None:
    asyncio.run(_enqueue(dsn, jobs))


async def _work(dsn: str, concurrency: int | None) -> None:
    from oban import Oban

    _registered()
    limit = concurrency or DEFAULT_LIMIT
    pool = await Oban.create_pool(dsn, max_size=10)
    async with Oban(pool=pool, queues={QUEUE: limit}):
        await asyncio.Event().wait()


def work(dsn: str, kind: str, arg: Any, concurrency: int | None) -> None:
    asyncio.run(_work(dsn, concurrency))
