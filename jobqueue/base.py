"""What a job type's code is built from: `BaseJob` and the `JobResult` it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic

if TYPE_CHECKING:
    from jobqueue.context import JobContext
    from jobqueue.registry import JobDefinition


class NoPayload(pydantic.BaseModel):
    """The payload of a job type that takes none: an empty object."""

    model_config = pydantic.ConfigDict(extra="forbid")


def overrides(job_class: type[BaseJob], name: str) -> bool:
    """Whether `job_class` defines its own `name` (a check stage or hook), instead of
    inheriting `BaseJob`'s, which does nothing: the engine calls only what a type defines."""
    return getattr(job_class, name) is not getattr(BaseJob, name)


@dataclass
class JobResult:
    """What `execute` returns. `success=False` makes the attempt a failure (retried or dead)."""

    success: bool = True
    message: str = ""
    data: Any = None
    counters: dict[str, int] = field(default_factory=dict)
    retryable: bool = True  # for success=False: False sends the job straight to dead letters
    snooze_for: float | None = None  # set by `snooze()`: run again in this many seconds, attempt unspent

    @classmethod
    def ok(cls, message: str = "", data: Any = None, **counters: int) -> JobResult:
        return cls(True, message, data, dict(counters))

    @classmethod
    def failed(cls, message: str, data: Any = None, *, retryable: bool = True) -> JobResult:
        return cls(False, message, data, retryable=retryable)

    @classmethod
    def snooze(cls, seconds: float, message: str = "") -> JobResult:
        """Run the job again in `seconds` without using an attempt (as raising `Snooze` does)."""
        if not seconds >= 0:
            raise ValueError(f"JobResult.snooze needs a number of seconds >= 0, not {seconds!r}")
        return cls(True, message or f"snoozed for {seconds:g} s", snooze_for=float(seconds))

    def as_json(self) -> dict[str, Any]:
        return {"success": self.success, "message": self.message, "data": self.data, "counters": self.counters}


class BaseJob:
    """Base class of a job type. Subclass it, define `execute`, decorate with `@job`.

    A subclass defines `execute(self, ctx, payload)` (or, for a batch type,
    `execute_batch(self, ctx, payloads)`); `@job` refuses a class with neither.
    The validation pipeline runs before `execute`, in this order: `check_configuration`,
    `check_prerequisites`, `check_resources`, `validate`. A check raises `SkipJob` to end
    the job as skipped, or `PermanentError` / `RetryableError` to fail the attempt.
    """

    Payload: ClassVar[type[pydantic.BaseModel]] = NoPayload
    Settings: ClassVar[type[pydantic.BaseModel] | None] = None
    definition: ClassVar[JobDefinition]

    def check_configuration(self, ctx: JobContext) -> None:
        """Refuse to run with invalid settings; the default checks what the resolver reported."""
        from jobqueue.exceptions import PermanentError

        if ctx.config.errors:
            raise PermanentError("configuration is invalid: " + "; ".join(ctx.config.errors))

    def check_prerequisites(self, ctx: JobContext, payload: Any) -> None:
        """Things that must already exist (records, other jobs' results)."""

    def check_resources(self, ctx: JobContext, payload: Any) -> None:
        """Outside resources the job needs (a reachable service, a free slot)."""

    def validate(self, ctx: JobContext, payload: Any) -> None:
        """Job-specific checks of the payload against the world."""

    def on_failure(self, ctx: JobContext, payload: Any, error: BaseException) -> None:
        """Called after a failed attempt that will be retried (recovery work)."""

    def on_dead(self, ctx: JobContext, payload: Any, error: BaseException | None) -> None:
        """Called once when the job gives up and becomes a dead letter."""

    def cleanup(self, ctx: JobContext, payload: Any) -> None:
        """Always called after an attempt, whatever its outcome."""
