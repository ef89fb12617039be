"""The one callable django-q2 executes: runs a claimed unit through the engine's pipeline."""

from __future__ import annotations

import contextlib
import signal
from typing import Any

from django_q.exceptions import TimeoutException

from jobqueue.engine.pipeline import run_unit
from jobqueue.engine.units import Unit


def run(type_name: str, mode: str, jobs: Any, cluster: str, timeout: int, priority: int = 0) -> str:
    """Run one unit. django-q2 armed SIGALRM for the whole unit; the pipeline keeps a
    deadline per job instead, so that alarm is disarmed here (django-q2's guard, which kills
    a worker past the unit's budget, stays the last resort)."""
    with contextlib.suppress(ValueError, AttributeError):  # not the main thread, or no SIGALRM
        signal.alarm(0)
    try:
        # A cluster's worker: an async unit tops up as its jobs finish (jobqueue.engine.topup).
        return run_unit(Unit.from_args(type_name, mode, jobs, cluster, timeout, priority), top_up=True)
    except TimeoutException:  # pragma: no cover - the alarm was disarmed above
        return "unrecorded"
