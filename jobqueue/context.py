"""`JobContext`: what a running job sees of itself (settings, logger, progress, cancel, follow-ups)."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import pydantic
from django.utils import timezone

from jobqueue import tracing
from jobqueue.config.options import EffectiveConfig, placement_errors
from jobqueue.config.settings import jobqueue_settings
from jobqueue.exceptions import PayloadValidationError

if TYPE_CHECKING:
    from jobqueue.registry import JobDefinition

M = TypeVar("M", bound=pydantic.BaseModel)

# How often a running job may touch the database for progress writes and cancel checks.
_PROGRESS_INTERVAL = 0.5
_CANCEL_INTERVAL = 0.5


class JobLog:
    """A logger bound to one job: lines go to the `jobqueue.job.<type>` logger and, bounded,
    onto the attempt so the admin and the API can show them."""

    def __init__(self, type_name: str, job_id: str) -> None:
        self._logger = logging.getLogger(f"jobqueue.job.{type_name}")
        self._job_id = job_id
        self.lines: list[dict[str, Any]] = []
        self.dropped = 0

    def log(self, level: int, msg: str, *args: Any, exc_info: Any = None) -> None:
        text = msg % args if args else str(msg)
        if len(self.lines) < jobqueue_settings.LOG_MAX_LINES:
            limit = jobqueue_settings.LOG_LINE_MAX_CHARS
            self.lines.append(
                {
                    "at": timezone.now().isoformat(),
                    "level": logging.getLevelName(level),
                    "message": text if len(text) <= limit else text[:limit] + "…",
                }
            )
        else:
            self.dropped += 1
        self._logger.log(level, "[job %s] %s", self._job_id, text, exc_info=exc_info)

    def debug(self, msg: str, *args: Any) -> None:
        self.log(logging.DEBUG, msg, *args)

    def info(self, msg: str, *args: Any) -> None:
        self.log(logging.INFO, msg, *args)

    def warning(self, msg: str, *args: Any) -> None:
        self.log(logging.WARNING, msg, *args)

    def error(self, msg: str, *args: Any) -> None:
        self.log(logging.ERROR, msg, *args)

    def exception(self, msg: str, *args: Any) -> None:
        self.log(logging.ERROR, msg, *args, exc_info=True)

    def kept(self) -> list[dict[str, Any]]:
        if not self.dropped:
            return self.lines
        return [
            *self.lines,
            {
                "at": timezone.now().isoformat(),
                "level": "WARNING",
                "message": f"{self.dropped} more log lines dropped (LOG_MAX_LINES)",
            },
        ]


@dataclass
class FollowUp:
    """A job to enqueue in the same transaction that records this attempt's success."""

    definition: JobDefinition
    payload: dict[str, Any]
    options: dict[str, Any]
    # The trace context of the enqueue, taken in the attempt's span (jobqueue.tracing).
    trace_context: dict[str, str] | None = None


class JobContext:
    """Handed to `execute`: identity, configuration and the job's ways to talk back."""

    def __init__(
        self,
        *,
        job_id: str,
        definition: JobDefinition,
        config: EffectiveConfig,
        attempt: int,
        max_attempts: int,
        deadline: datetime | None,
        progress: float | None = None,
    ) -> None:
        self.job_id = job_id
        self.job_ids = [job_id]  # all the jobs of a batch, in payload order
        self.definition = definition
        self.job_type = definition.name
        self.config = config
        self.attempt = attempt
        self.max_attempts = max_attempts
        self.deadline = deadline
        self.log = JobLog(definition.name, job_id)
        self.follow_ups: list[FollowUp] = []
        self.last_progress = progress
        self._progress_written = 0.0
        self._cancel_checked = 0.0
        self._cancelled = False

    @classmethod
    def for_attempt(
        cls,
        definition: JobDefinition,
        config: EffectiveConfig,
        job_id: str,
        attempt: int,
        max_attempts: int,
        *,
        timeout: float | None = None,
        deadline: datetime | None = None,
        progress: float | None = None,
    ) -> JobContext:
        """The context of one attempt of a job of `definition`'s type: its deadline `timeout`
        seconds from now (or the `deadline` given)."""
        if timeout is not None:
            deadline = timezone.now() + timedelta(seconds=timeout)
        return cls(
            job_id=job_id,
            definition=definition,
            config=config,
            attempt=attempt,
            max_attempts=max_attempts,
            deadline=deadline,
            progress=progress,
        )

    @property
    def settings(self) -> Any:
        """The job type's effective settings (a validated instance of its Settings model)."""
        return self.config.settings

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def time_left(self) -> float | None:
        if self.deadline is None:
            return None
        return max(0.0, (self.deadline - timezone.now()).total_seconds())

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress (0..1); visible on the job while it runs. Writes at most twice a second."""
        fraction = min(1.0, max(0.0, float(fraction)))
        self.last_progress = fraction
        now = time.monotonic()
        if fraction < 1.0 and now - self._progress_written < _PROGRESS_INTERVAL:
            return
        self._progress_written = now
        from jobqueue.models import Job

        Job.objects.filter(pk=self.job_id).update(progress=fraction, progress_message=message[:255])

    async def aprogress(self, fraction: float, message: str = "") -> None:
        """`progress` for async jobs: awaitable, and safe on the event loop."""
        from asgiref.sync import sync_to_async

        await sync_to_async(self.progress, thread_sensitive=True)(fraction, message)

    def is_cancelled(self) -> bool:
        """True once an operator asked to cancel this job; return soon after it turns true."""
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._cancel_checked >= _CANCEL_INTERVAL:
            self._cancel_checked = now
            from jobqueue.models import Job

            self._cancelled = Job.objects.filter(pk=self.job_id, cancel_requested_at__isnull=False).exists()
        return self._cancelled

    async def ais_cancelled(self) -> bool:
        """`is_cancelled` for async jobs: awaitable, and safe on the event loop."""
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._cancel_checked >= _CANCEL_INTERVAL:
            self._cancel_checked = now
            from jobqueue.models import Job

            self._cancelled = await Job.objects.filter(pk=self.job_id, cancel_requested_at__isnull=False).aexists()
        return self._cancelled

    def results_of(self, job: Any, model: type[M] | None = None) -> Any:
        """The result data of a job this one was enqueued `after` (a Job or its id): the `data`
        of its JobResult, validated into `model` when given. None for a dependency that ended
        without success (`ignore_failure`); an error for a job this one does not wait for."""
        from jobqueue.models import Dependency

        on_id = str(getattr(job, "pk", job))
        found = Dependency.objects.filter(job_id=self.job_id, on_id=uuid.UUID(on_id)).values_list(
            "on__status", "on__result"
        )
        if not found:
            raise LookupError(f"job {self.job_id} does not depend on job {on_id}: pass it in enqueue(after=[...])")
        status, result = found[0]
        if status != "succeeded":
            return None
        return _data(result) if model is None else model.model_validate(_data(result))

    def dependency_results(self) -> dict[str, Any]:
        """The result data of every job this one was enqueued `after`, by job id (see `results_of`)."""
        from jobqueue.models import Dependency

        rows = Dependency.objects.filter(job_id=self.job_id).values_list("on_id", "on__status", "on__result")
        return {str(on_id): _data(result) if status == "succeeded" else None for on_id, status, result in rows}

    def enqueue(self, job_type: Any, payload: Any = None, **options: Any) -> None:
        """Enqueue a follow-up job, committed together with this job's success (and not at all
        if this attempt fails). The payload and options are checked now, so bad ones fail
        this attempt here, not later while its success is being recorded."""
        from jobqueue.registry import resolve_definition

        definition = resolve_definition(job_type)
        payload_json = definition.payload_json(payload)
        unknown = sorted(set(options) - {"priority", "run_after", "delay", "unique_key"})
        _, _, errors = placement_errors(
            priority=options.get("priority"),
            run_after=options.get("run_after"),
            delay=options.get("delay"),
            unique_key=options.get("unique_key"),
            now=timezone.now(),
        )
        errors.update({name: ["not an option of enqueue"] for name in unknown})
        if errors:
            raise PayloadValidationError(definition.name, errors)
        # Written with this attempt's success, later; the span marks the request, inside the attempt's.
        with tracing.enqueuing(definition.name) as trace_context:
            self.follow_ups.append(FollowUp(definition, payload_json, options, trace_context))


def _data(result: Any) -> Any:
    """The `data` of a stored JobResult; a result stored otherwise, as it is."""
    return result.get("data") if isinstance(result, dict) and "success" in result else result
