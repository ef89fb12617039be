"""chancy in the race (asyncio executor): job rows kept as history."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from bench import race_peer

QUEUE = "race"


async def race_job() -> None:
    await race_peer.body(os.environ["RACE_KIND"], os.environ["RACE_ARG"])


async def _enqueue(dsn: str, jobs: int) -> None:
    from chancy import Chancy, Job, Queue

    async with Chancy(dsn) as chancy:
        await chancy.migrate()
        await chancy.declare(Queue(QUEUE, executor="chancy.executors.asyncex.AsyncExecutor"), upsert=True)
        one = Job.from_func(race_job, queue=QUEUE)
        async for _ in chancy.push_many([one] * jobs):
            pass


def enqueue(dsn: str, jobs: int, kind: str, arg: Any) -> None:
    asyncio.run(_enqueue(dsn, jobs))


async def _work(dsn: str, concurrency: int | None) -> None:
    from chancy import Chancy, Queue, Worker

    async with Chancy(dsn) as chancy:
        # The queue is declared per run: its concurrency is per worker process (default 100 for
        # the asyncio executor); eager polling takes more as soon as a job completes.
        await chancy.declare(
            Queue(
                QUEUE,
                executor="chancy.executors.asyncex.AsyncExecutor",
                concurrency=concurrency,
                polling_interval=1,
                eager_polling=True,
            ),
            upsert=True,
        )
        async with Worker(chancy) as worker:
            await worker.wait_for_shutdown()


def work(dsn: str, kind: str, arg: Any, concurrency: int | None) -> None:
    asyncio.run(_work(dsn, concurrency))
