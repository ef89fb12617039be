"""The job queue's own job types (discovered like any app's jobs module)."""

from __future__ import annotations

import uuid
from typing import Any

import pydantic
from asgiref.sync import async_to_sync

from jobqueue.base import BaseJob, JobResult, overrides
from jobqueue.config.options import Priority
from jobqueue.context import JobContext
from jobqueue.engine import steps
from jobqueue.engine.drivers import adrive, drive
from jobqueue.engine.reclaim import HOOK_TYPE, WORKER_LOST, WORKER_TIMED_OUT
from jobqueue.registry import job


@job(name="jobqueue_prune", schedule=600, overlap=False, max_attempts=1, timeout=900, priority=Priority.LOW)
def prune_history(ctx: JobContext) -> JobResult:
    """Delete finished jobs past their type's retention, in bounded batches."""
    from jobqueue.services.retention import prune

    report = prune()
    ctx.log.info("deleted %s finished jobs, %s housekeeping rows", report.jobs, report.housekeeping)
    return JobResult.ok("pruned", jobs=report.jobs, housekeeping=report.housekeeping, complete=int(report.complete))


@job(name="jobqueue_rollup", schedule=60, overlap=False, max_attempts=1, timeout=600, priority=Priority.LOW)
def roll_up_metrics(ctx: JobContext) -> JobResult:
    """Roll the closed minutes of the history up into per-minute metrics (MetricMinute)."""
    from jobqueue.observability.rollup import roll_up

    report = roll_up()
    ctx.log.info("rolled up %s minutes (%s rows), until %s", report.minutes, report.rows, report.rolled_until)
    return JobResult.ok("rolled up", minutes=report.minutes, rows=report.rows, behind=int(report.behind))


# max_attempts=1: hooks are delivered at most once per recorded attempt (docs/architecture.md).
@job(name=HOOK_TYPE, max_attempts=1, timeout=600)
class RunReclaimedHook(BaseJob):
    """Run `cleanup`, then `on_failure` or `on_dead`, of a job whose attempt the reclaimer
    closed (its worker died, or was stopped past its timeout), in a worker, as the pipeline
    would have.

    Which hook is decided here from the stored rows, never from the payload: `on_dead` when
    that attempt made the job dead, `on_failure` when the job was retried after it. A job
    pointing at an attempt the reclaimer did not close is skipped, so enqueueing this type
    by hand can never run a hook that the job's own history does not call for.
    """

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        job_id: uuid.UUID
        attempt: int = pydantic.Field(ge=1)

    def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        from jobqueue.config.effective import type_state
        from jobqueue.exceptions import PayloadValidationError, SkipJob, UnknownJobTypeError, WorkerLost
        from jobqueue.models import Attempt, Job, Outcome, Status

        target = Job.objects.select_related("job_type").filter(pk=payload.job_id).first()
        closed = Attempt.objects.filter(
            job_id=payload.job_id,
            number=payload.attempt,
            outcome__in=(Outcome.CRASHED, Outcome.TIMED_OUT),
            error_type__in=(WORKER_LOST, WORKER_TIMED_OUT),
        ).first()
        if target is None or closed is None:
            raise SkipJob(f"no attempt {payload.attempt} of job {payload.job_id} was closed by the reclaimer")
        try:
            state = type_state(target.job_type.name)
        except UnknownJobTypeError as exc:
            raise SkipJob(str(exc)) from None
        try:
            job_payload: Any = state.definition.validate_payload(target.payload)
        except PayloadValidationError:
            job_payload = None
        dead = target.status == Status.DEAD and target.attempts == payload.attempt
        hook_ctx = JobContext.for_attempt(
            state.definition, state.config, str(target.pk), payload.attempt, target.max_attempts, deadline=ctx.deadline
        )
        hook_ctx.log = ctx.log  # the hook's log lines are kept on this job's attempt
        error = WorkerLost(closed.error_message, outcome=closed.outcome, attempt=payload.attempt)
        hook = "on_dead" if dead else "on_failure"
        instance = state.definition.job_class()
        # The pipeline's own steps, so a raising cleanup or hook is handled as it is there.
        hook_steps = steps.reclaimed(instance, hook, hook_ctx, job_payload, error)
        if state.definition.is_async:
            async_to_sync(adrive)(hook_steps, None)
        else:
            drive(hook_steps, None)
        ran = [name for name in ("cleanup", hook) if overrides(type(instance), name)]
        return JobResult.ok(f"{hook} of {target.job_type.name} job {target.pk} ran", data={"hook": hook, "ran": ran})
