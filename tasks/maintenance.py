"""Housekeeping job types of this deployment."""

from __future__ import annotations

from jobqueue import JobContext, JobResult, Priority, job


@job(priority=Priority.LOW, max_attempts=1, timeout=30)
def heartbeat(ctx: JobContext, note: str = "") -> JobResult:
    """Record that the queue is alive: a no-op job an operator can enqueue to test the workers."""
    ctx.log.info("heartbeat %s", note)
    return JobResult.ok("alive", note=len(note))
