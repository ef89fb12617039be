"""Operator actions: re-run, cancel, re-queue or discard a dead letter. Each is audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobqueue.engine import dependencies
from jobqueue.engine.enqueue import enqueue
from jobqueue.exceptions import InvalidStateError
from jobqueue.models import WAITING, DeadLetter, Job, JobType, Resolution, Status
from jobqueue.registry import registry
from jobqueue.services.audit import Actor, actor_label, record
from jobqueue.services.permissions import require_again


def run_now(job_type: JobType, payload: Any = None, *, by: Actor, priority: int | None = None) -> Job:
    """Enqueue a job of a type at once, outside its schedule (the admin's and API's "run now")."""
    with transaction.atomic():
        new = enqueue(job_type.name, payload, priority=priority, created_by=f"run-now:{actor_label(by)}")
        record(by, job_type, "run now", "", f"enqueued {new.pk}")
    return new


def rerun(job: Job, *, by: Actor, reason: str = "") -> Job:
    """Enqueue a new job with the same type and payload, linked to `job` by `rerun_of`.

    A user needs the type's `jobqueue.enqueue_<type>` too (ActionRefused otherwise)."""
    if not job.is_finished:
        raise InvalidStateError(f"job {job.pk} is {job.status}; only a finished job can be re-run")
    require_again(by, job.job_type.name, payload_edited=False)
    with transaction.atomic():
        new = enqueue(
            job.job_type.name,
            job.payload,
            priority=job.priority,
            created_by=actor_label(by),
            rerun_of=job,
            workflow_id=str(job.workflow_id) if job.workflow_id else None,
            after=dependencies.edges_of(job),
        )
        # The dependents this job's failure cancelled wait for the re-run instead.
        dependencies.rearm(str(job.pk), str(new.pk))
        record(by, job, "rerun", reason, f"re-run as {new.pk}")
    return new


def cancel(job: Job, *, by: Actor, reason: str = "") -> Job:
    """Cancel a waiting job at once; ask a running one to stop (it sees ctx.is_cancelled())."""
    now = timezone.now()
    with transaction.atomic():
        if Job.objects.filter(pk=job.pk, status__in=[*WAITING, Status.BLOCKED]).update(
            status=Status.CANCELLED, finished_at=now, cancel_requested_at=now
        ):
            outcome = "cancelled"
            dependencies.resolve([str(job.pk)], now)
        elif Job.objects.filter(pk=job.pk, status=Status.RUNNING, cancel_requested_at__isnull=True).update(
            cancel_requested_at=now
        ):
            outcome = "cancel requested"
        else:
            job.refresh_from_db()
            if job.status == Status.RUNNING:
                outcome = "cancel already requested"
            else:
                raise InvalidStateError(f"job {job.pk} is already {job.status}; there is nothing to cancel")
        record(by, job, "cancel", reason, outcome)
    job.refresh_from_db()
    return job


def requeue_dead_letter(dead_letter: DeadLetter, *, by: Actor, payload: Any = None, reason: str = "") -> Job:
    """Enqueue the dead job again (optionally with a corrected payload, validated) and mark the
    dead letter resolved. Raises InvalidStateError if it was already resolved, ActionRefused when
    a user lacks the type's `jobqueue.enqueue_<type>` (or edits a built-in job's payload)."""
    dead_letter.refresh_from_db()
    if dead_letter.is_resolved:
        raise InvalidStateError(f"dead letter {dead_letter.pk} is already resolved ({dead_letter.resolution})")
    job = dead_letter.job
    name = dead_letter.job_type.name
    if name not in registry:
        raise InvalidStateError(f"job type {name!r} is no longer defined in code; its jobs cannot run")
    require_again(by, name, payload_edited=payload is not None and payload != dead_letter.payload)
    with transaction.atomic():
        new = enqueue(
            name,
            dead_letter.payload if payload is None else payload,
            priority=job.priority,
            created_by=actor_label(by),
            rerun_of=job,
            workflow_id=str(job.workflow_id) if job.workflow_id else None,
            after=dependencies.edges_of(job),
        )
        dependencies.rearm(str(job.pk), str(new.pk))
        _resolve(dead_letter, Resolution.REQUEUED, by, reason, requeued_job=new)
        record(by, dead_letter, "requeue", reason, f"re-queued as {new.pk}")
    return new


def discard_dead_letter(dead_letter: DeadLetter, *, by: Actor, reason: str) -> DeadLetter:
    """Mark a dead letter resolved without running it again; the reason is required."""
    if not reason or not reason.strip():
        raise InvalidStateError("a reason is required to discard a dead letter")
    with transaction.atomic():
        _resolve(dead_letter, Resolution.DISCARDED, by, reason)
        record(by, dead_letter, "discard", reason, "discarded")
    dead_letter.refresh_from_db()
    return dead_letter


def _resolve(
    dead_letter: DeadLetter, resolution: Resolution, by: Actor, reason: str, requeued_job: Job | None = None
) -> None:
    # Conditional on "unresolved" so that two operators acting at once cannot both resolve it.
    updated = DeadLetter.objects.filter(Q(pk=dead_letter.pk) & Q(resolution="")).update(
        resolution=resolution,
        resolved_at=timezone.now(),
        resolved_by=actor_label(by),
        resolution_reason=reason,
        requeued_job=requeued_job,
    )
    if not updated:
        raise InvalidStateError(f"dead letter {dead_letter.pk} is already resolved")
