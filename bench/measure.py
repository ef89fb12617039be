"""Small measuring tools shared by both sides: waiting on a condition, percentiles, rates."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any


class Incomplete(Exception):
    """A scenario did not complete every job in time: the run is invalid, not slow."""


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Incomplete(what or f"condition not met within {timeout} s")
        time.sleep(interval)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (no interpolation), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def rate(count: int, start: datetime | float, end: datetime | float) -> float | None:
    """count per second between two instants (datetimes or epoch seconds)."""
    first = start.timestamp() if isinstance(start, datetime) else start
    last = end.timestamp() if isinstance(end, datetime) else end
    return count / (last - first) if last > first else None


def millis(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() * 1000


def latency_summary(to_start: list[float], to_finish: list[float]) -> dict[str, float | None]:
    return {
        "start_p50_ms": percentile(to_start, 0.5),
        "start_p95_ms": percentile(to_start, 0.95),
        "finish_p50_ms": percentile(to_finish, 0.5),
        "finish_p95_ms": percentile(to_finish, 0.95),
    }
