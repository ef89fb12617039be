"""Retry-delay policy: exponential backoff with a cap and jitter. Pure; no Django imports."""

from __future__ import annotations

import random
from collections.abc import Callable


def retry_delay(
    failed_attempt: int,
    *,
    base: float,
    factor: float,
    maximum: float,
    jitter: float,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after attempt number `failed_attempt` (1-based) failed.

    The delay is `base * factor ** (failed_attempt - 1)`, capped at `maximum`, then spread by
    up to `jitter` (a fraction) either way so that jobs that failed together do not all
    retry in the same instant; the spread never takes it past `maximum` or below zero.
    """
    if failed_attempt < 1:
        raise ValueError(f"failed_attempt counts from 1, got {failed_attempt}")
    try:
        delay = base * factor ** (failed_attempt - 1)
    except OverflowError:
        delay = maximum
    delay = min(delay, maximum)
    if jitter:
        delay *= 1.0 + jitter * (2.0 * rng() - 1.0)
    return max(0.0, min(delay, maximum))
