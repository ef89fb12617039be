"""The job queue's own job types (discovered like any app's jobs module)."""

from __future__ import annotations

from jobqueue.base import JobResult
from jobqueue.context import JobContext
from jobqueue.options import Priority
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
    from jobqueue.rollup import roll_up

    report = roll_up()
    ctx.log.info("rolled up %s minutes (%s rows), until %s", report.minutes, report.rows, report.rolled_until)
    return JobResult.ok("rolled up", minutes=report.minutes, rows=report.rows, behind=int(report.behind))
