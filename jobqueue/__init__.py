"""A job queue for Django: job types declared in code, configured in the database, run by django-q2.

Public API: `job`, `BaseJob`, `JobContext`, `JobResult`, `Unique`, `Priority`, `enqueue`, `Workflow`,
`enqueue_many` and the errors a job raises. `enqueue`, `enqueue_many` and `JobContext` need
the app registry; they are loaded on first use so that importing this package stays cheap.
"""

from typing import Any

from jobqueue.base import BaseJob, JobResult
from jobqueue.config.options import Priority
from jobqueue.exceptions import (
    PayloadValidationError,
    PermanentError,
    RateLimited,
    RetryableError,
    SkipJob,
    Snooze,
    UnknownJobTypeError,
    WorkerLost,
    WorkerTimedOut,
)
from jobqueue.registry import Unique, job

_LAZY = {
    "enqueue": "jobqueue.services",
    "enqueue_many": "jobqueue.services",
    "JobContext": "jobqueue.context",
    "Workflow": "jobqueue.engine.workflow",
    "needs": "jobqueue.engine.workflow",
    "After": "jobqueue.engine.dependencies",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jobqueue' has no attribute {name!r}")


__all__ = [
    "After",
    "BaseJob",
    "JobContext",
    "JobResult",
    "PayloadValidationError",
    "PermanentError",
    "Priority",
    "RateLimited",
    "RetryableError",
    "SkipJob",
    "Snooze",
    "Unique",
    "UnknownJobTypeError",
    "WorkerLost",
    "WorkerTimedOut",
    "Workflow",
    "enqueue",
    "enqueue_many",
    "job",
    "needs",
]
