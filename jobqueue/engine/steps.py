"""The steps of an attempt, written once for every kind of unit.

Each step function is a generator that yields the calls into job code (`Call`) and receives
their results; a driver (`engine.drivers`) performs the calls, synchronously or on an event
loop. So validation, the check stages, execution and the reading of results exist once,
whether the job type is sync or async, a single job or a batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from jobqueue.base import BaseJob, JobResult, overrides
from jobqueue.context import JobContext
from jobqueue.engine import shutdown
from jobqueue.engine.decide import AttemptReport
from jobqueue.exceptions import PayloadValidationError, PermanentError, RateLimited, RetryableError, SkipJob, Snooze
from jobqueue.models import DeadReason, Outcome


class JobTimedOut(BaseException):
    """Raised into job code when its attempt's deadline passes."""


@dataclass(frozen=True)
class Call:
    """A call into job code. `timed` calls run under the attempt's deadline."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    timed: bool = True


Steps = Generator[Call, Any, Any]


def call(fn: Callable[..., Any], *args: Any, timed: bool = True) -> Call:
    return Call(fn, args, timed)


def prepare(instance: BaseJob, ctx: JobContext, raw: Any, cancel_requested: bool, report: AttemptReport) -> Steps:
    """Validate the payload and run the check stages. Returns the payload, or None when the
    job was decided here (cancelled, invalid, skipped, refused by a check, rate limited)."""
    if cancel_requested:
        report.outcome = Outcome.CANCELLED
        return None
    try:
        payload = ctx.definition.validate_payload(raw)
    except PayloadValidationError as exc:
        report.fail(PermanentError(str(exc)))
        report.retryable, report.dead_reason = False, DeadReason.INVALID_PAYLOAD
        return None
    try:
        for stage in ("check_prerequisites", "check_resources", "validate"):
            if overrides(type(instance), stage):
                yield call(getattr(instance, stage), ctx, payload)
    except BaseException as exc:
        settle(report, exc, ctx)
        return None
    return payload


def settle(report: AttemptReport, exc: BaseException, ctx: JobContext) -> None:
    """What an exception out of job code makes of the attempt (classified for `decide`)."""
    if isinstance(exc, SkipJob):
        report.outcome, report.result = Outcome.SKIPPED, {"skipped": str(exc)}
    elif isinstance(exc, RateLimited):
        # Not a failure: the attempt is handed back and the job waits out the upstream's limit.
        report.rate_limited_after, report.error_message = exc.after, str(exc)
    elif isinstance(exc, Snooze):
        snooze(report, exc.seconds, str(exc))
    elif isinstance(exc, JobTimedOut):
        report.fail(exc)
        report.outcome, report.error_type = Outcome.TIMED_OUT, "TimeoutError"
    elif isinstance(exc, Exception) or not shutdown.shutting_down():
        # SystemExit or KeyboardInterrupt raised by job code itself (sys.exit(), a stray
        # interrupt) fails the attempt now, not when its lease runs out.
        report.outcome = Outcome.FAILED
        report.fail(exc, ctx.definition)
    else:
        raise exc  # the cluster is stopping: the worker goes, the attempt is reclaimed


def snooze(report: AttemptReport, seconds: float, message: str) -> None:
    """The job asked to run again later: an attempt in the history, not in the budget."""
    report.outcome, report.snooze_for, report.error_message = Outcome.SNOOZED, seconds, message


def conclude(report: AttemptReport, value: Any, ctx: JobContext) -> None:
    """One job's result: a JobResult, an exception (from a batch), or a plain value."""
    if isinstance(value, BaseException):
        report.outcome = Outcome.FAILED
        report.fail(value, ctx.definition)
        return
    result = value if isinstance(value, JobResult) else JobResult.ok(data=value)
    if result.snooze_for is not None:
        snooze(report, result.snooze_for, result.message)
        return
    report.result = jsonable(result.as_json())
    if result.success:
        report.outcome = Outcome.SUCCEEDED
    else:
        report.outcome = Outcome.FAILED
        report.error = RetryableError(result.message or "the job reported failure")
        report.error_type = "JobResult"
        report.error_message = str(report.error)
        report.retryable = result.retryable


def single(instance: BaseJob, ctx: JobContext, raw: Any, cancel_requested: bool, report: AttemptReport) -> Steps:
    """The whole attempt of one job: checks, execute, cleanup, and the cancel check."""
    payload = None
    try:
        yield call(instance.check_configuration, ctx)
        payload = yield from prepare(instance, ctx, raw, cancel_requested, report)
        if payload is not None:
            conclude(report, (yield call(instance.execute, ctx, payload)), ctx)  # type: ignore[attr-defined]
    except BaseException as exc:
        settle(report, exc, ctx)
    yield from after(instance, ctx, payload, [report], cancel_requested)


def batch(instance: Any, ctx: JobContext, jobs: list[tuple[str, Any, bool, AttemptReport]]) -> Steps:
    """One call of execute_batch for the jobs of a batch that pass their checks; each job
    keeps its own report, so only those that failed are retried or dead-lettered."""
    payloads: dict[str, Any] = {}
    try:
        yield call(instance.check_configuration, ctx)
        for job_id, raw, cancel_requested, report in jobs:
            payload = yield from prepare(instance, ctx, raw, cancel_requested, report)
            if payload is not None:
                payloads[job_id] = payload
        ctx.job_ids = list(payloads)  # in payload order
        values = list((yield call(instance.execute_batch, ctx, list(payloads.values())))) if payloads else []
        if len(values) != len(payloads):
            raise PermanentError(f"execute_batch returned {len(values)} results for {len(payloads)} payloads")
        reports = {job_id: report for job_id, _, _, report in jobs}
        for job_id, value in zip(payloads, values, strict=True):
            conclude(reports[job_id], value, ctx)
    except BaseException as exc:
        # Decided jobs stay decided; the ones still pending share the batch's fate.
        for job_id, _, _, report in jobs:
            if job_id in payloads and report.outcome == Outcome.FAILED and report.error is None:
                settle(report, exc, ctx)
    yield from after(instance, ctx, list(payloads.values()), [r for *_, r in jobs], False)


def after(instance: BaseJob, ctx: JobContext, payload: Any, reports: list[AttemptReport], cancelled: bool) -> Steps:
    """`cleanup` (always), then the cancel check: a job that saw the request and stopped,
    or failed after it, was cancelled."""
    yield from cleanup(instance, ctx, payload)
    seen = ctx._cancelled
    if not seen and any(r.outcome in (Outcome.FAILED, Outcome.TIMED_OUT) for r in reports):
        seen = cancelled or bool((yield call(ctx.is_cancelled, timed=False)))
    for report in reports:
        report.logs = ctx.log.kept()
        report.progress = ctx.last_progress
        if report.outcome in (Outcome.FAILED, Outcome.TIMED_OUT) and seen:
            report.outcome = Outcome.CANCELLED
        elif report.outcome == Outcome.SUCCEEDED and ctx._cancelled:
            report.outcome = Outcome.CANCELLED  # the job saw the request and stopped early


def cleanup(instance: BaseJob, ctx: JobContext, payload: Any) -> Steps:
    """`cleanup`, if the type defines one. One that raises is logged on the attempt; it
    changes neither the attempt's outcome nor whether the failure hook runs."""
    if overrides(type(instance), "cleanup"):
        try:
            yield call(instance.cleanup, ctx, payload, timed=False)
        except Exception:
            ctx.log.exception("cleanup raised")


def hook(instance: BaseJob, name: str, ctx: JobContext, payload: Any, error: BaseException | None) -> Steps:
    """A failure hook (`on_failure` / `on_dead`), for an attempt already recorded. One that
    raises is logged; the attempt stays as recorded."""
    if not overrides(type(instance), name):
        return
    try:
        yield call(getattr(instance, name), ctx, payload, error, timed=False)
    except Exception:
        ctx.log.exception("hook %s raised", name)


def reclaimed(instance: BaseJob, name: str, ctx: JobContext, payload: Any, error: BaseException) -> Steps:
    """What the pipeline would have run after an attempt the reclaimer closed: `cleanup`, then
    the failure hook, the same steps as above (run by the `jobqueue_hook` job)."""
    yield from cleanup(instance, ctx, payload)
    yield from hook(instance, name, ctx, payload, error)


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))
