"""The Dramatiq peer: a no-op and an I/O actor on Redis, no results (`dramatiq bench.peer_dramatiq`)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.benchjobs import http
from bench.peer_tasks import PREFIX, REDIS_URL, count_done

QUEUE = "bench"

dramatiq.set_broker(RedisBroker(url=REDIS_URL, namespace=f"{PREFIX}-dramatiq"))


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def noop() -> None:
    count_done("dramatiq")


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def io(url: str) -> None:
    http.get_sync(url)
    count_done("dramatiq-io")
