"""The exceptions of the job queue: what jobs raise, and what callers of the services catch."""

from __future__ import annotations

from typing import Any


class JobQueueError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(JobQueueError, ValueError):
    """A job type's declaration or configuration is invalid; the message names the fix."""


class DuplicateJobTypeError(ConfigurationError):
    """Two definitions claim the same job type name."""


class UnknownJobTypeError(JobQueueError, LookupError):
    """The named job type is not registered (or its code is gone)."""


class PayloadValidationError(JobQueueError, ValueError):
    """A payload does not match its job type's schema.

    `errors` maps a dotted field path ("" for the payload as a whole) to its messages, so
    the API and the admin can show each message beside its field.
    """

    def __init__(self, job_type: str, errors: dict[str, list[str]]) -> None:
        self.job_type = job_type
        self.errors = errors
        detail = "; ".join(f"{path or '(payload)'}: {', '.join(msgs)}" for path, msgs in errors.items())
        super().__init__(f"invalid payload for job type {job_type!r}: {detail}")


class InvalidStateError(JobQueueError):
    """The operation does not apply to the object in its current state (e.g. cancel a finished job)."""


class ActionRefused(JobQueueError, PermissionError):
    """The user may do the action but not to this job type: re-running or re-queueing a job needs
    its type's `jobqueue.enqueue_<type>` permission, as enqueueing it does."""


class RetryableError(JobQueueError):
    """Raise from a job to ask for another attempt; `after` (seconds) overrides the backoff."""

    def __init__(self, message: str = "", *, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


class PermanentError(JobQueueError):
    """Raise from a job when retrying cannot help: the job goes straight to the dead-letter store."""


class RateLimited(JobQueueError):
    """Raise from a job when an upstream asked us to slow down; the job waits without using an attempt."""

    def __init__(self, message: str = "", *, after: float = 60.0) -> None:
        super().__init__(message)
        self.after = after


class Snooze(JobQueueError):
    """Raise from a job to run it again in `seconds`, without using an attempt: the attempt is
    kept in the history (outcome `snoozed`) and the job's attempt budget grows by one."""

    def __init__(self, seconds: float, message: str = "") -> None:
        if not seconds >= 0:
            raise ValueError(f"Snooze needs a number of seconds >= 0, not {seconds!r}")
        super().__init__(message or f"snoozed for {seconds:g} s")
        self.seconds = float(seconds)


class SkipJob(JobQueueError):
    """Raise from a validation check or from `execute` to end the job as skipped, with the reason."""


class WorkerLost(JobQueueError):
    """The error handed to `on_failure` / `on_dead` for an attempt the reclaimer closed: its
    worker died, or was stopped past the timeout, before reporting (`outcome` says which)."""

    def __init__(self, message: str, *, outcome: str, attempt: int) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.attempt = attempt


class WorkerTimedOut(WorkerLost):
    """A `WorkerLost` whose worker was stopped because the attempt ran past its timeout and did
    not report. Recorded attempts name it `jobqueue.exceptions.WorkerTimedOut`."""


def pydantic_errors(exc: Any) -> dict[str, list[str]]:
    """Turn a pydantic ValidationError into {dotted path: [messages]}."""
    errors: dict[str, list[str]] = {}
    for err in exc.errors():
        path = ".".join(str(part) for part in err.get("loc", ()))
        errors.setdefault(path, []).append(str(err.get("msg", "invalid value")))
    return errors
