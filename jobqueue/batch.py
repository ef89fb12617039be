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
from jobqueue.exceptions import PayloadValidationError, PermanentError, RateLimited, SkipJob
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
    valid: list[tuple[str, Any]] = []
    for claim, job in started:
        try:
            valid.append((claim.job_id, ctx.definition.validate_payload(job.payload)))
        except PayloadValidationError as exc:
            report = reports[claim.job_id]
            describe(report, PermanentError(str(exc)))
            report.retryable, report.dead_reason = False, DeadReason.INVALID_PAYLOAD
    try:
        instance.check_configuration(ctx)
        values = list(instance.execute_batch(ctx, [payload for _, payload in valid])) if valid else []
        disarm_timeout()
        if len(values) != len(valid):
            raise PermanentError(f"execute_batch returned {len(values)} results for {len(valid)} payloads")
        for (job_id, _), value in zip(valid, values, strict=True):
            _item(ctx, reports[job_id], value)
    except SkipJob as exc:
        for job_id, _ in valid:
            reports[job_id].outcome, reports[job_id].result = Outcome.SKIPPED, {"skipped": str(exc)}
    except RateLimited as exc:
        for job_id, _ in valid:
            reports[job_id].rate_limited_after, reports[job_id].error_message = exc.after, str(exc)
    except TimeoutException as exc:
        disarm_timeout()
        reset_connection()
        for job_id, _ in valid:
            describe(reports[job_id], exc)
            reports[job_id].outcome, reports[job_id].error_type = Outcome.TIMED_OUT, "TimeoutError"
    except Exception as exc:
        disarm_timeout()
        reset_connection()
        for job_id, _ in valid:
            describe(reports[job_id], exc)
            reports[job_id].retryable, reports[job_id].retry_after = classify(ctx, exc)
    finally:
        disarm_timeout()
        hook(instance.cleanup, ctx, [payload for _, payload in valid])
    now = timezone.now()
    for report in reports.values():
        report.finished_at = now
    return reports


def _item(ctx: JobContext, report: lifecycle.AttemptReport, value: Any) -> None:
    """One job's share of a batch result: a JobResult, an exception, or a plain value."""
    if isinstance(value, BaseException):
        describe(report, value)
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
