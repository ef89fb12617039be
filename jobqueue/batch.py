"""Running a batch: several claimed jobs of one batch type in one call of `execute_batch`.

Each job keeps its own attempt row (linked by a shared batch id), its own result and its own
fate: only the jobs that failed are retried or dead-lettered; the others succeed.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from jobqueue.base import JobResult
from jobqueue.context import JobContext
from jobqueue.exceptions import PayloadValidationError, PermanentError, RateLimited, RetryableError, SkipJob
from jobqueue.models import DeadReason, Job, Outcome
from jobqueue.runner import (
    HOST,
    TimeoutException,
    classify,
    describe,
    disarm_timeout,
    hook,
    jsonable,
    prepare,
    reset_connection,
    timeout_for,
)
from jobqueue.services import lifecycle


def run_batch(claims: list[lifecycle.Claim], type_name: str = "") -> str:
    state, why_not = prepare(claims, type_name)
    if state is None:
        return why_not or "missing"
    config = state.config
    timeout = timeout_for(config)
    started: list[tuple[lifecycle.Claim, Job]] = []
    for claim in claims:
        job = lifecycle.start(claim, host=HOST, pid=os.getpid(), timeout=timeout, rated=bool(config.rate_limit))
        if job is not None:
            started.append((claim, job))
    if not started:
        return "lost"
    began = started[0][1].started_at or timezone.now()
    ctx = JobContext(
        job_id=started[0][0].job_id,
        definition=state.definition,
        config=config,
        attempt=max(claim.attempt for claim, _ in started),
        max_attempts=min(job.max_attempts for _, job in started),
        deadline=began + timedelta(seconds=timeout),
    )
    ctx.job_ids = [claim.job_id for claim, _ in started]
    reports = _execute(state.definition.job_class(), ctx, started, began)
    batch_id = uuid.uuid4()
    logs = ctx.log.kept()
    succeeded = [claim.job_id for claim, _ in started if reports[claim.job_id].outcome == Outcome.SUCCEEDED]
    if succeeded:
        # Follow-ups of a batch commit with its first successful job (and not at all if none).
        reports[succeeded[0]].follow_ups = ctx.follow_ups
    outcome = "lost"
    with transaction.atomic():
        for claim, job in started:
            report = reports[claim.job_id]
            if report.rate_limited_after is not None:
                after = timezone.now() + timedelta(seconds=max(0.0, report.rate_limited_after))
                lifecycle.release(claim, run_after=after, note=f"rate limited: {report.error_message}")
                continue
            report.batch_id = batch_id
            report.logs = logs
            decision = lifecycle.finish(claim, job, report, config)
            if decision is not None and claim is started[0][0]:
                outcome = decision.status.value
    return outcome


def _execute(
    instance: Any, ctx: JobContext, started: list[tuple[lifecycle.Claim, Job]], began: Any
) -> dict[str, lifecycle.AttemptReport]:
    def new_report() -> lifecycle.AttemptReport:
        return lifecycle.AttemptReport(outcome=Outcome.FAILED, started_at=began, host=HOST, pid=os.getpid())

    reports = {claim.job_id: new_report() for claim, _ in started}
    errors: dict[str, BaseException] = {}
    # The jobs still waiting for an outcome, in payload order; each step below takes out
    # the ones it decides, so that a failure of a later step never overwrites them.
    pending: list[tuple[str, Any]] = []
    validated: dict[str, Any] = {}
    for claim, job in started:
        report = reports[claim.job_id]
        if job.cancel_requested_at is not None:
            report.outcome = Outcome.CANCELLED
            continue
        try:
            validated[claim.job_id] = ctx.definition.validate_payload(job.payload)
            pending.append((claim.job_id, validated[claim.job_id]))
        except PayloadValidationError as exc:
            errors[claim.job_id] = PermanentError(str(exc))
            describe(report, errors[claim.job_id])
            report.retryable, report.dead_reason = False, DeadReason.INVALID_PAYLOAD
    try:
        instance.check_configuration(ctx)
        _check_items(instance, ctx, pending, reports, errors)
        ctx.job_ids = [job_id for job_id, _ in pending]  # in payload order
        values = list(instance.execute_batch(ctx, [payload for _, payload in pending])) if pending else []
        disarm_timeout()
        if len(values) != len(pending):
            raise PermanentError(f"execute_batch returned {len(values)} results for {len(pending)} payloads")
        for (job_id, _), value in zip(pending, values, strict=True):
            _item(ctx, reports[job_id], value, errors, job_id)
    except SkipJob as exc:
        for job_id, _ in pending:
            reports[job_id].outcome, reports[job_id].result = Outcome.SKIPPED, {"skipped": str(exc)}
    except RateLimited as exc:
        for job_id, _ in pending:
            reports[job_id].rate_limited_after, reports[job_id].error_message = exc.after, str(exc)
    except TimeoutException as exc:
        disarm_timeout()
        reset_connection()
        for job_id, _ in pending:
            describe(reports[job_id], exc)
            reports[job_id].outcome, reports[job_id].error_type = Outcome.TIMED_OUT, "TimeoutError"
            errors[job_id] = exc
    except Exception as exc:
        disarm_timeout()
        reset_connection()
        for job_id, _ in pending:
            describe(reports[job_id], exc)
            reports[job_id].retryable, reports[job_id].retry_after = classify(ctx, exc)
            errors[job_id] = exc
    finally:
        disarm_timeout()
        hook(instance.cleanup, ctx, list(validated.values()))
    now = timezone.now()
    for claim, job in started:
        report = reports[claim.job_id]
        report.finished_at = now
        if report.outcome in (Outcome.FAILED, Outcome.TIMED_OUT) and claim.job_id in errors:
            # The same recovery path as a single job: on_failure when it will be retried,
            # on_dead once when it gives up (with the validated payload; None if it was invalid).
            payload = validated.get(claim.job_id)
            will_retry = report.retryable and claim.attempt < job.max_attempts
            hook(instance.on_failure if will_retry else instance.on_dead, ctx, payload, errors[claim.job_id])
    return reports


def _check_items(
    instance: Any,
    ctx: JobContext,
    pending: list[tuple[str, Any]],
    reports: dict[str, lifecycle.AttemptReport],
    errors: dict[str, BaseException],
) -> None:
    """The per-job steps of the validation pipeline (`check_prerequisites`, `check_resources`,
    `validate`), job by job: a job a check refuses is decided on its own (skipped, failed
    and classified, or handed back when rate limited) and left out of `execute_batch`."""
    decided: set[str] = set()
    try:
        for job_id, payload in pending:
            report = reports[job_id]
            try:
                instance.check_prerequisites(ctx, payload)
                instance.check_resources(ctx, payload)
                instance.validate(ctx, payload)
                continue
            except SkipJob as exc:
                report.outcome, report.result = Outcome.SKIPPED, {"skipped": str(exc)}
            except RateLimited as exc:
                report.rate_limited_after, report.error_message = exc.after, str(exc)
            except Exception as exc:
                describe(report, exc)
                report.retryable, report.retry_after = classify(ctx, exc)
                errors[job_id] = exc
            decided.add(job_id)
    finally:
        # Also when a timeout stops the checks: what they decided stays decided.
        pending[:] = [item for item in pending if item[0] not in decided]


def _item(
    ctx: JobContext, report: lifecycle.AttemptReport, value: Any, errors: dict[str, BaseException], job_id: str
) -> None:
    """One job's share of a batch result: a JobResult, an exception, or a plain value."""
    if isinstance(value, BaseException):
        describe(report, value)
        errors[job_id] = value
        if isinstance(value, Exception):
            report.retryable, report.retry_after = classify(ctx, value)
        return
    result = value if isinstance(value, JobResult) else JobResult.ok(data=value)
    report.result = jsonable(result.as_json())
    if result.success:
        report.outcome = Outcome.SUCCEEDED
    else:
        report.error_type = "JobResult"
        report.error_message = result.message or "the job reported failure"
        report.retryable = result.retryable
        errors[job_id] = RetryableError(report.error_message)
