"""Claiming ready jobs: priority order, per-type concurrency and rate limits, batches, leases.

One short transaction per claim. On PostgreSQL the candidate rows are taken with
`FOR UPDATE SKIP LOCKED`, so clusters never wait on each other's rows; the rows of job types
with a concurrency or rate limit are locked (in id order: no deadlocks) and their counts
re-read under the lock, so two clusters can never both take a type's last free slot. On
SQLite the transaction is IMMEDIATE: claims are serialized by the database lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from jobqueue.conf import jobqueue_settings
from jobqueue.models import Job, JobType, RateLimitStart, Status
from jobqueue.typeconfig import TypeState, type_states

WAITING = ("queued", "scheduled", "retrying")


@dataclass(frozen=True)
class Claimed:
    """One unit handed to a worker: a job, or for a batch type the first job of a batch."""

    job_id: str
    type_name: str
    attempt: int
    timeout: int
    batch: tuple[tuple[str, int], ...] = ()  # the other (job id, attempt) pairs of a batch


def timeout_of(state: TypeState) -> int:
    return int(state.config.timeout or jobqueue_settings.DEFAULT_TIMEOUT)


def claim(limit: int, cluster: str, now: datetime | None = None) -> list[Claimed]:
    """Claim up to `limit` units of ready work: highest priority first, oldest first within a
    priority, only of enabled registered types, within each type's concurrency and rate limit."""
    now = now or timezone.now()
    runnable = {s.type_id: s for s in type_states().values() if s.config.enabled}
    if not runnable or limit < 1:
        return []
    with transaction.atomic():
        kept, allowance = _gated_selection(runnable, limit, now)
        kept += _fill_batches(kept, runnable, allowance, now)
        if not kept:
            return []
        rows = _mark_running(kept, runnable, cluster, now)
        rated = [(job_id, tid) for job_id, tid, _ in rows if runnable[tid].config.rate_limit]
        if rated:
            RateLimitStart.objects.bulk_create(
                [RateLimitStart(job_type_id=tid, job_id=job_id, at=now) for job_id, tid in rated]
            )
    return _units(kept, rows, runnable)


def _gated_selection(
    runnable: dict[int, TypeState], limit: int, now: datetime
) -> tuple[list[tuple[str, int]], dict[int, int]]:
    """Select candidates in priority order and keep those their type's limits allow.

    Limits are only looked at for the gated types that actually turn up among the
    candidates, so claims of ungated work cost no extra queries. A type found full is left
    out and the selection repeated (at most three rounds), so a full type at the top of
    the queue never starves the rest. A gated type's row is locked with SKIP LOCKED: if
    another cluster is claiming that type right now, this claim leaves it for the next
    round instead of waiting (and no two clusters can ever deadlock on type rows).
    """
    gated = {tid for tid, s in runnable.items() if s.config.concurrency or s.config.rate_limit}
    postgres = connection.vendor == "postgresql"
    kept: list[tuple[str, int]] = []
    seen: list[str] = []
    allowance: dict[int, int] = {}
    excluded: set[int] = set()
    for _ in range(3):
        types = [tid for tid in runnable if tid not in excluded]
        need = limit - len(kept)
        if need <= 0 or not types:
            break
        candidates = _select(types, need, now, exclude=seen)
        if not candidates:
            break
        seen += [job_id for job_id, _ in candidates]
        new = sorted({tid for _, tid in candidates if tid in gated and tid not in allowance})
        if new:
            if postgres:
                locked = set(
                    JobType.objects.select_for_update(skip_locked=True).filter(pk__in=new).values_list("pk", flat=True)
                )
                excluded |= set(new) - locked
                new = sorted(locked)
            allowance.update(_allowances(runnable, set(new), now))
        full = False
        for job_id, tid in candidates:
            if tid in excluded and tid not in allowance:
                full = True
                continue
            if tid in allowance:
                if allowance[tid] <= 0:
                    excluded.add(tid)
                    full = True
                    continue
                allowance[tid] -= 1
            kept.append((job_id, tid))
        if not full:
            break
    return kept, allowance


def _allowances(runnable: dict[int, TypeState], type_ids: set[int], now: datetime) -> dict[int, int]:
    """How many more jobs each gated type may start now (concurrency and rate limit)."""
    if not type_ids:
        return {}
    running = dict(
        Job.objects.filter(status=Status.RUNNING, job_type_id__in=type_ids)
        .values_list("job_type_id")
        .annotate(n=Count("id"))
    )
    allowance: dict[int, int] = {}
    for tid in type_ids:
        config = runnable[tid].config
        room = 1 << 30
        if config.concurrency:
            room = int(config.concurrency) - running.get(tid, 0)
        if config.rate_limit:
            since = now - timedelta(seconds=config.rate_limit.period)
            started = RateLimitStart.objects.filter(job_type_id=tid, at__gt=since).count()
            room = min(room, config.rate_limit.count - started)
        allowance[tid] = room
    return allowance


def _select(type_ids: list[int], limit: int, now: datetime, exclude: list[str] | None = None) -> list[tuple[str, int]]:
    marks = ", ".join(["%s"] * len(type_ids))
    # The statuses are written as literals (constants of ours, never input): SQLite matches a
    # partial index only against literals, and without it a claim sorts the whole backlog.
    statuses = ", ".join(f"'{status}'" for status in WAITING)
    params: list[Any] = [db_datetime(now), *type_ids]
    not_in = ""
    if exclude:
        not_in = f" AND id NOT IN ({', '.join(['%s'] * len(exclude))})"
        params += [db_id(job_id) for job_id in exclude]
    postgres = connection.vendor == "postgresql"
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    # SQLite has no statistics unless ANALYZE ran, and may then prefer another index plus a
    # sort; the claim index serves this ORDER BY directly at any backlog size.
    indexed = "" if postgres else " INDEXED BY jq_job_claim"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, job_type_id FROM {Job._meta.db_table}{indexed} "  # noqa: S608 - only constants are interpolated
            f"WHERE status IN ({statuses}) AND run_after <= %s AND job_type_id IN ({marks}){not_in} "
            f"ORDER BY priority DESC, run_after ASC LIMIT %s{lock}",
            [*params, limit],
        )
        return [(str(row[0]), row[1]) for row in cursor.fetchall()]


def db_datetime(value: datetime) -> Any:
    """A datetime parameter for raw SQL, in the form the ORM itself stores (naive UTC text on SQLite)."""
    return connection.ops.adapt_datetimefield_value(value)


def db_id(job_id: str) -> Any:
    # SQLite stores UUIDs as 32 hex characters; PostgreSQL has a uuid type.
    value = uuid.UUID(job_id)
    return value if connection.vendor == "postgresql" else value.hex


def _fill_batches(
    kept: list[tuple[str, int]], runnable: dict[int, TypeState], allowance: dict[int, int], now: datetime
) -> list[tuple[str, int]]:
    """For each batch type claimed, add more of its ready jobs up to its batch size (within
    the type's remaining allowance when it is gated)."""
    extra: list[tuple[str, int]] = []
    for tid in sorted({tid for _, tid in kept if runnable[tid].definition.is_batch}):
        size = int(runnable[tid].config.batch_size)
        have = sum(1 for _, t in kept if t == tid)
        need = (-have) % size if have % size else 0
        if tid in allowance:
            need = min(need, max(0, allowance[tid]))
        if need:
            more = _select([tid], need, now, exclude=[job_id for job_id, _ in kept])
            if tid in allowance:
                allowance[tid] -= len(more)
            extra += more
    return extra


def _mark_running(
    kept: list[tuple[str, int]], runnable: dict[int, TypeState], cluster: str, now: datetime
) -> list[tuple[str, int, int]]:
    longest = max(timeout_of(runnable[tid]) for _, tid in kept)
    # A claimed job may wait in the cluster's local queue behind running ones: the claim's
    # lease covers the longest timeout; run_job sets the job's own lease when it starts.
    lease = now + timedelta(seconds=longest + int(jobqueue_settings.LEASE_GRACE))
    ids = [db_id(job_id) for job_id, _ in kept]
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Job._meta.db_table} SET status = %s, attempts = attempts + 1, claimed_by = %s, "  # noqa: S608
            f"lease_expires_at = %s, claimed_at = %s, started_at = NULL, worker = '' "
            f"WHERE id IN ({marks}) RETURNING id, job_type_id, attempts",
            [Status.RUNNING.value, cluster, db_datetime(lease), db_datetime(now), *ids],
        )
        return [(str(uuid.UUID(str(job_id))), tid, attempts) for job_id, tid, attempts in cursor.fetchall()]


def _units(
    kept: list[tuple[str, int]], rows: list[tuple[str, int, int]], runnable: dict[int, TypeState]
) -> list[Claimed]:
    attempts = {job_id: attempt for job_id, _, attempt in rows}
    order = [(str(uuid.UUID(job_id)), tid) for job_id, tid in kept]
    units: list[Claimed] = []
    batches: dict[int, list[tuple[str, int]]] = {}
    for job_id, tid in order:
        if job_id not in attempts:
            continue
        state = runnable[tid]
        if state.definition.is_batch:
            batches.setdefault(tid, []).append((job_id, attempts[job_id]))
            continue
        units.append(Claimed(job_id, state.definition.name, attempts[job_id], timeout_of(state)))
    for tid, members in batches.items():
        state = runnable[tid]
        size = int(state.config.batch_size)
        for start in range(0, len(members), size):
            (first_id, first_attempt), *rest = members[start : start + size]
            units.append(Claimed(first_id, state.definition.name, first_attempt, timeout_of(state), tuple(rest)))
    return units
