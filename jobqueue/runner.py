"""`run_job`: the one callable django-q2 executes. Runs one attempt and records it; never raises."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import traceback
from datetime import timedelta
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone

# django-q2 stops a job past its timeout by raising this (a SystemExit) from SIGALRM.
from django_q.exceptions import TimeoutException

from jobqueue import inflight
from jobqueue.base import BaseJob, JobResult
from jobqueue.context import JobContext
from jobqueue.exceptions import (
    PayloadValidationError,
    PermanentError,
    RateLimited,
    RetryableError,
    SkipJob,
    UnknownJobTypeError,
)
from jobqueue.models import DeadReason, Outcome
from jobqueue.services import lifecycle
from jobqueue.shutdown import shutting_down
from jobqueue.typeconfig import type_state

logger = logging.getLogger("jobqueue")

HOST = socket.gethostname()


def run_job(
    job_id: str, attempt: int, cluster: str, batch: tuple[tuple[str, int], ...] = (), type_name: str = ""
) -> str:
    """Run one claimed attempt of a job (or, for a batch type, of a batch of jobs) and record
    its outcome. Returns the job's new status.

    Everything is caught: django-q2 must never see an exception from here, because then it
    would store a result of its own; the Job and Attempt rows are the only history.
    """
    claim = lifecycle.Claim(job_id, attempt, cluster)
    try:
        if batch or _is_batch_type(type_name, job_id):
            from jobqueue.batch import run_batch

            return run_batch([claim, *(lifecycle.Claim(j, a, cluster) for j, a in batch)], type_name)
        return _run(claim, type_name)
    except BaseException:
        # Only our own bookkeeping can land here (a lost database, say). The lease will
        # expire and another cluster will reclaim the job: log, and let the worker go on.
        logger.exception("job %s: attempt %s could not be recorded", job_id, attempt)
        disarm_timeout()
        reset_connection()
        return "unrecorded"
    finally:
        inflight.done(1 + len(batch))


def _is_batch_type(type_name: str, job_id: str) -> bool:
    """A batch type runs through execute_batch even when only one of its jobs was ready."""
    from jobqueue.models import Job
    from jobqueue.registry import registry

    if not type_name:
        type_name = Job.objects.filter(pk=job_id).values_list("job_type__name", flat=True).first() or ""
    return type_name in registry and registry.get(type_name).is_batch


def prepare(claims: list[lifecycle.Claim], type_name: str = "") -> tuple[Any, str | None]:
    """The claimed jobs' type state, or why they cannot run: released at shutdown, missing,
    or of a type gone from the code (dead-lettered)."""
    if shutting_down():
        for claim in claims:
            lifecycle.release(claim)
        return None, "released"
    # (django-q2's worker has just closed stale connections before calling us.)
    from jobqueue.models import Job

    if not type_name:  # the broker passes it; a direct call may not
        type_name = Job.objects.filter(pk=claims[0].job_id).values_list("job_type__name", flat=True).first() or ""
    if not type_name:
        return None, "missing"
    try:
        return type_state(type_name), None
    except UnknownJobTypeError as exc:
        for claim in claims:
            status = _dead_without_running(claim, DeadReason.UNREGISTERED_TYPE, str(exc))
        return None, status


def timeout_for(config: Any) -> int:
    return int(config.timeout or 0) or _default_timeout()


def _run(claim: lifecycle.Claim, type_name: str = "") -> str:
    state, why_not = prepare([claim], type_name)
    if state is None:
        return why_not or "missing"
    config = state.config
    timeout = timeout_for(config)
    job = lifecycle.start(claim, host=HOST, pid=os.getpid(), timeout=timeout, rated=bool(config.rate_limit))
    if job is None:
        return "lost"
    started = job.started_at or timezone.now()
    ctx = JobContext(
        job_id=claim.job_id,
        definition=state.definition,
        config=config,
        attempt=claim.attempt,
        max_attempts=job.max_attempts,
        deadline=started + timedelta(seconds=timeout),
        progress=job.progress,
    )
    report = _execute(state.definition.job_class(), ctx, job.payload, started, job.cancel_requested_at is not None)
    if report.rate_limited_after is not None:
        run_after = timezone.now() + timedelta(seconds=max(0.0, report.rate_limited_after))
        lifecycle.release(claim, run_after=run_after, note=f"rate limited: {report.error_message}")
        return "queued"
    report.logs = ctx.log.kept()
    report.follow_ups = ctx.follow_ups
    report.progress = ctx.last_progress
    decision = lifecycle.finish(claim, job, report, config)
    return decision.status.value if decision else "lost"


def _execute(
    instance: BaseJob, ctx: JobContext, raw_payload: Any, started: Any, cancel_requested: bool
) -> lifecycle.AttemptReport:
    report = lifecycle.AttemptReport(outcome=Outcome.FAILED, started_at=started, host=HOST, pid=os.getpid())
    payload: Any = None
    error: BaseException | None = None
    try:
        if cancel_requested:
            report.outcome = Outcome.CANCELLED
            return report
        try:
            payload = ctx.definition.validate_payload(raw_payload)
        except PayloadValidationError as exc:
            report.dead_reason = DeadReason.INVALID_PAYLOAD
            raise PermanentError(str(exc)) from None
        instance.check_configuration(ctx)
        instance.check_prerequisites(ctx, payload)
        instance.check_resources(ctx, payload)
        instance.validate(ctx, payload)
        value = instance.execute(ctx, payload)  # type: ignore[attr-defined]
        disarm_timeout()
        result = value if isinstance(value, JobResult) else JobResult.ok(data=value)
        report.result = jsonable(result.as_json())
        if result.success:
            report.outcome = Outcome.SUCCEEDED
        else:
            report.error_type = "JobResult"
            report.error_message = result.message or "the job reported failure"
            report.retryable = result.retryable
            error = RetryableError(report.error_message)
    except SkipJob as exc:
        report.outcome = Outcome.SKIPPED
        report.result = {"skipped": str(exc)}
    except TimeoutException as exc:
        disarm_timeout()
        reset_connection()
        error = exc
        report.outcome = Outcome.TIMED_OUT
        describe(report, exc)
        report.error_type = "TimeoutError"
    except RateLimited as exc:
        # Not a failure: the attempt is handed back and the job waits out the upstream's limit.
        report.rate_limited_after = exc.after
        report.error_message = str(exc)
        return report
    except Exception as exc:
        disarm_timeout()
        reset_connection()
        error = exc
        describe(report, exc)
        report.retryable, report.retry_after = classify(ctx, exc)
    finally:
        disarm_timeout()
        hook(instance.cleanup, ctx, payload)
    report.finished_at = timezone.now()
    if report.outcome in (Outcome.FAILED, Outcome.TIMED_OUT) and (cancel_requested or ctx.is_cancelled()):
        report.outcome = Outcome.CANCELLED
    elif ctx._cancelled and report.outcome == Outcome.SUCCEEDED:
        report.outcome = Outcome.CANCELLED  # the job saw the request and stopped early
    if report.outcome in (Outcome.FAILED, Outcome.TIMED_OUT):
        will_retry = report.retryable and ctx.attempt < ctx.max_attempts
        if will_retry:
            hook(instance.on_failure, ctx, payload, error)
        else:
            hook(instance.on_dead, ctx, payload, error)
    return report


def classify(ctx: JobContext, exc: Exception) -> tuple[bool, float | None]:
    """(retryable, delay override) for an exception raised by a job."""
    definition = ctx.definition
    if isinstance(exc, (PermanentError, *definition.dont_retry_on)):
        return False, None
    if isinstance(exc, RetryableError):
        return True, exc.after
    return isinstance(exc, definition.retry_on), None


def describe(report: lifecycle.AttemptReport, exc: BaseException) -> None:
    report.error_type = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
    report.error_message = str(exc)
    report.traceback = "".join(traceback.format_exception(exc))


def hook(method: Any, *args: Any) -> None:
    try:
        method(*args)
    except Exception:
        logger.exception("job %s: hook %s raised", args[0].job_id, getattr(method, "__name__", method))


def _dead_without_running(claim: lifecycle.Claim, reason: DeadReason, message: str) -> str:
    from jobqueue.models import Job
    from jobqueue.options import CODE_DEFAULTS, EffectiveConfig

    job = Job.objects.get(pk=claim.job_id)
    report = lifecycle.AttemptReport(
        outcome=Outcome.FAILED,
        error_type="UnknownJobTypeError",
        error_message=message,
        retryable=False,
        dead_reason=reason,
        host=HOST,
        pid=os.getpid(),
    )
    decision = lifecycle.finish(claim, job, report, EffectiveConfig("", dict(CODE_DEFAULTS), {}))
    return decision.status.value if decision else "lost"


def jsonable(value: Any) -> Any:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


def _default_timeout() -> int:
    from jobqueue.conf import jobqueue_settings

    return int(jobqueue_settings.DEFAULT_TIMEOUT)


def disarm_timeout() -> None:
    # Once execute() is over, the rest (recording the attempt) must not be cut by the alarm.
    with contextlib.suppress(ValueError, AttributeError):  # not the main thread, or no SIGALRM
        signal.alarm(0)


def reset_connection() -> None:
    # An exception (or the timeout) may have left the connection inside a broken transaction.
    try:
        if connection.in_atomic_block:
            return
        if connection.connection is not None and connection.needs_rollback:
            connection.rollback()
        close_old_connections()
    except Exception:
        connection.close()
