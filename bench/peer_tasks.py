"""What every peer's no-op task does: count itself in Redis, so the harness sees the drain end.

One pipelined round trip per task (INCR plus two timestamps): the peers keep no results, so
this is the least that tells the harness when the last task finished.
"""

from __future__ import annotations

import os
import time
from typing import Any

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = "jobqueue-bench"
_client: Any = None


def count_done(peer: str) -> None:
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(REDIS_URL)
    now = time.time()
    pipe = _client.pipeline(transaction=False)
    pipe.incr(f"{PREFIX}:{peer}:done")
    pipe.set(f"{PREFIX}:{peer}:first", now, nx=True)
    pipe.set(f"{PREFIX}:{peer}:last", now)
    pipe.execute()
