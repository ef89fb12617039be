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
