"""Enqueueing: validate against the job type, insert in the caller's transaction, wake a cluster."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from jobqueue import tracing
from jobqueue.config.effective import TypeState, type_state, type_states
from jobqueue.config.options import placement_errors
from jobqueue.engine import dependencies, inserts, sql, turns
from jobqueue.engine.dependencies import After
from jobqueue.engine.wakeup import notify
from jobqueue.exceptions import PayloadValidationError
from jobqueue.models import ACTIVE, Job, Status, UniqueLock, new_id
from jobqueue.registry import JobDefinition, resolve_definition

JobTypeRef = str | JobDefinition | type | Callable[..., Any]

# Called with each job inserted (jobqueue.testing's inline mode runs it at commit); None in production.
after_insert: Callable[[Job], object] | None = None


def build_job(
    job_type: JobTypeRef,
    payload: Any = None,
    *,
    priority: int | None = None,
    run_after: datetime | None = None,
    delay: float | timedelta | None = None,
    unique_key: str | None = None,
    created_by: str = "",
    rerun_of: Job | None = None,
    now: datetime | None = None,
) -> Job:
    """Validate everything and return an unsaved Job; raise PayloadValidationError with field paths."""
    definition = resolve_definition(job_type)
    state = type_state(definition.name)
    errors: dict[str, list[str]] = {}
    payload_json: dict[str, Any] = {}
    partition_key = ""
    try:
        validated = definition.validate_payload(payload)
        payload_json = validated.model_dump(mode="json")
        partition_key = definition.partition_of(validated)
    except PayloadValidationError as exc:
        errors.update({f"payload.{p}" if p else "payload": m for p, m in exc.errors.items()})
    now = now or timezone.now()
    priority, run_after, placement = placement_errors(
        priority=priority, run_after=run_after, delay=delay, unique_key=unique_key, now=now
    )
    errors.update(placement)
    if priority is None:
        priority = state.config.priority
    if errors:
        raise PayloadValidationError(definition.name, errors)
    if unique_key is None:
        unique_key = unique_key_for(definition, payload_json)
    job = inserts.build(
        Job, job_row(state, payload_json, partition_key, priority, run_after or now, now, unique_key, created_by)
    )
    if rerun_of is not None:
        job.rerun_of = rerun_of
    return job


def job_row(
    state: TypeState,
    payload_json: Any,
    partition_key: str,
    priority: int,
    run_after: datetime,
    now: datetime,
    unique_key: str | None,
    created_by: str,
) -> dict[str, Any]:
    """The columns of a new job (single and bulk enqueue alike): `scheduled` when it is due
    later, else `queued`; its attempts from the type's `max_attempts`."""
    return {
        "id": new_id(),
        "job_type_id": state.type_id,
        "payload": payload_json,
        "partition_key": partition_key,
        "priority": priority,
        "status": Status.SCHEDULED if run_after > now else Status.QUEUED,
        "max_attempts": state.config.max_attempts,
        "run_after": run_after,
        "created_at": now,
        "unique_key": unique_key,
        "created_by": created_by[:150],
    }


def enqueue(
    job_type: JobTypeRef,
    payload: Any = None,
    *,
    priority: int | None = None,
    run_after: datetime | None = None,
    delay: float | timedelta | None = None,
    unique_key: str | None = None,
    created_by: str = "",
    rerun_of: Job | None = None,
    after: Iterable[After | Job | str] = (),
    workflow_id: str | None = None,
) -> Job:
    """Enqueue one job. The row joins the caller's transaction: workers see it only after commit.

    `after`: jobs (or ids, or `After(job, ignore_failure=True)`) this one waits for; it stays
    `blocked` until they have all succeeded (see `engine.dependencies`).

    Raises UnknownJobTypeError (listing the known types), PayloadValidationError (with field
    paths) or UnknownDependencyError; in each case nothing is written.
    """
    definition = resolve_definition(job_type)
    with tracing.enqueuing(definition.name) as trace_context:
        new = build_job(
            definition,
            payload,
            priority=priority,
            run_after=run_after,
            delay=delay,
            unique_key=unique_key,
            created_by=created_by,
            rerun_of=rerun_of,
        )
        new.workflow_id, new.trace_context = workflow_id, trace_context
        edges = dependencies.edges(after)
        if not edges:
            return enqueue_built(new, definition)
        with sql.write_transaction():
            status, reason = dependencies.initial_status(new, edges)
            new.status, new.last_error = status, reason
            if status == Status.CANCELLED:
                new.finished_at = new.created_at
            built = enqueue_built(new, definition)
            if not built.is_duplicate:
                dependencies.attach(built, edges)
        return built


def enqueue_built(new: Job, definition: JobDefinition | None = None) -> Job:
    """Insert a Job made by build_job (unique keys honoured); pass the definition when known."""
    if new.unique_key is not None:
        if definition is None:
            states = [s for s in type_states().values() if s.type_id == new.job_type_id]
            definition = states[0].definition if states else None
        return _insert_unique(new, definition)
    # A type known to have no partition key has no turn to fill (the common case: no lookup).
    values = [] if definition is not None and definition.partition is None else turns.values_of([new])
    if values:
        # The job and its value's turn in one transaction (see engine.turns).
        with sql.write_transaction():
            inserts.insert([new])
            turns.fill(values)
    else:
        sql.lone_write(lambda: inserts.insert([new]))
    inserted([new])
    return new


def inserted(jobs: list[Job]) -> None:
    queued = [job.priority for job in jobs if job.status == Status.QUEUED]
    if queued:
        notify(max(queued))
    if after_insert is not None:
        for job in jobs:
            after_insert(job)


def unique_key_for(definition: JobDefinition, payload: dict[str, Any]) -> str | None:
    """The key a Unique policy derives from the payload (None for a type without one)."""
    if definition.unique is None:
        return None
    fields = definition.unique.fields or tuple(sorted(payload))
    material = json.dumps({f: payload.get(f) for f in fields}, sort_keys=True, separators=(",", ":"), default=str)
    return material if len(material) <= 200 else "sha256:" + hashlib.sha256(material.encode()).hexdigest()


def _insert_unique(new: Job, definition: JobDefinition | None) -> Job:
    """Insert a job with a unique key, or return the job that holds the key (is_duplicate=True).

    The database decides, never a read-then-write: the partial unique index on waiting and
    running jobs, and for a `Unique(period=...)` a UniqueLock row whose key is unique.
    """
    period = definition.unique.period if definition is not None and definition.unique else None
    for _ in range(3):  # the holder may finish or expire between our insert and our read
        with sql.write_transaction():
            if period is not None and not _take_lock(new, period):
                holder = _holder(new, include_finished=True)
                if holder is not None:
                    return holder
                continue
            try:
                with transaction.atomic():
                    inserts.insert([new])
                    turns.fill_jobs([new])
            except IntegrityError:
                holder = _holder(new, include_finished=False)
                if holder is not None:
                    transaction.set_rollback(True)  # give back a lock taken above
                    return holder
                continue
            if period is not None:
                UniqueLock.objects.filter(job_type_id=new.job_type_id, key=new.unique_key).update(job=new)
        inserted([new])
        return new
    raise IntegrityError(f"could not enqueue unique job {new.unique_key!r}: its key kept changing hands")


def _take_lock(new: Job, period: float) -> bool:
    expires = new.created_at + timedelta(seconds=period)
    for _ in range(2):
        try:
            with transaction.atomic():
                UniqueLock.objects.create(job_type_id=new.job_type_id, key=new.unique_key or "", expires_at=expires)
            return True
        except IntegrityError:
            # An expired lock is removed by whoever sees it first; the delete is conditional.
            UniqueLock.objects.filter(
                job_type_id=new.job_type_id, key=new.unique_key, expires_at__lte=new.created_at
            ).delete()
    return False


def _holder(new: Job, *, include_finished: bool) -> Job | None:
    jobs = Job.objects.filter(job_type_id=new.job_type_id, unique_key=new.unique_key)
    if not include_finished:
        jobs = jobs.filter(status__in=ACTIVE)
    holder = jobs.order_by("-created_at").first()
    if holder is not None:
        holder.is_duplicate = True
    return holder
