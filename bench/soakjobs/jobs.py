"""The soak's mixed workload: short, slow, failing and retrying jobs, and a schedule every second.

Each execution that reaches its end appends `done <job id> <attempt> <pid>` to the ledger named
by SOAK_LEDGER: a job with two `done` lines ran twice (an outcome lost after the work was done).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from jobqueue import JobContext, job


def _done(ctx: JobContext) -> None:
    ledger = os.environ.get("SOAK_LEDGER")
    if ledger:
        with Path(ledger).open("a", encoding="utf-8") as handle:
            handle.write(f"done {ctx.job_id} {ctx.attempt} {os.getpid()}\n")


@job(max_attempts=3, backoff_base=0.5, backoff_jitter=0.0)
def soak_short(ctx: JobContext) -> None:
    """10 ms of work."""
    time.sleep(0.01)
    _done(ctx)


@job(max_attempts=3, backoff_base=0.5, backoff_jitter=0.0)
def soak_slow(ctx: JobContext) -> None:
    """A second of work: the one a worker kill usually cuts."""
    time.sleep(1.0)
    _done(ctx)


@job(max_attempts=4, backoff_base=0.5, backoff_jitter=0.0)
def soak_retrying(ctx: JobContext) -> None:
    """Fails its first attempt, succeeds on the next."""
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails on purpose")
    _done(ctx)


@job(max_attempts=2, backoff_base=0.5, backoff_jitter=0.0)
def soak_failing(ctx: JobContext) -> None:
    """Always fails: ends as a dead letter."""
    raise RuntimeError("fails on purpose")


@job(schedule=1, overlap=True, max_attempts=3)
def soak_tick(ctx: JobContext) -> None:
    """Enqueued by the schedule every second."""
    _done(ctx)
