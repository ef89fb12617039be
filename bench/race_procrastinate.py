"""procrastinate in the race (psycopg 3): job rows and their event rows kept as history."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from bench import race_peer


def _app(dsn: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @app.task(name="race", queue="race")
    async def race() -> None:
        await race_peer.body(os.environ["RACE_KIND"], os.environ["RACE_ARG"])

    return app, race


async def _enqueue(dsn: str, jobs: int) -> None:
    app, race = _app(dsn)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        for start in range(0, jobs, 1000):
            await race.batch_defer_async(*[{}] * min(1000, jobs - start))


def enqueue(dsn: str, jobs: int, kind: str, arg: Any) -> None:
    asyncio.run(_enqueue(dsn, jobs))


async def _work(dsn: str, concurrency: int | None) -> None:
    app, _ = _app(dsn)
    async with app.open_async():
        # Its default concurrency is 1 job at a time per worker.
        await app.run_worker_async(queues=["race"], concurrency=concurrency or 1, install_signal_handlers=True)


def work(dsn: str, kind: str, arg: Any, concurrency: int | None) -> None:
    asyncio.run(_work(dsn, concurrency))
