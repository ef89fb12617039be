"""Claiming ready work as units: priority order, per-type (or per-partition) concurrency and
rate limits, round robin across partitions, leases.

One short write transaction per claim. Candidates come in claim order (highest priority,
then oldest); on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so clusters never wait on each
other's rows, and on SQLite under the write lock the transaction takes first. The rows of job
types with a concurrency or rate limit are locked (SKIP LOCKED, in id order: no deadlocks)
and their counts re-read under the lock, so two clusters never both take a type's last slot.

A partitioned type (`@job(partition=...)`) holds its concurrency and rate limit per partition
value: the same type lock, with counts grouped by value (one query each, whatever the number
of values). Its ready jobs are read round robin across values (`select_ready_fair`: each
job's turn in its partition's queue, within one priority) and locked by id; they are merged
with the other types' candidates by priority, then by when each was due.

Candidates are grouped into units in that order: a job joins an open unit of its type that
has space, or opens one while the cluster has room; the first that fits nowhere ends the
claim, so a unit never takes a job ahead of a more urgent one left behind. A job whose type
or partition is full is passed over: it could not run anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from jobqueue.config.effective import TypeState, type_state, type_states
from jobqueue.config.values import RateLimit
from jobqueue.engine import ratewindow, sql
from jobqueue.engine.lease import lease_until
from jobqueue.engine.units import Unit, is_rated, mode_of
from jobqueue.models import Job, JobType, PartitionTurn, Status

# Candidates read per claim at most: enough to fill the room with full units.
MAX_CANDIDATES = 500

UnitSize = Callable[[TypeState], int]


class Candidate(NamedTuple):
    """A ready job as the claim reads it; `partition` is None for a type without partitions."""

    job_id: str
    type_id: int
    priority: int
    partition: str | None
    run_after: Any


def claim(room: int, cluster: str, unit_size: UnitSize | None = None, now: datetime | None = None) -> list[Unit]:
    """Claim up to `room` units of ready work for `cluster`. `unit_size` says how many jobs
    of a type one unit may hold (one each when not given)."""
    now = now or timezone.now()
    runnable = {s.type_id: s for s in type_states().values() if s.config.enabled}
    if not runnable or room < 1:
        return []
    size = unit_size or (lambda state: 1)
    sizes = {tid: max(1, size(state)) for tid, state in runnable.items()}
    want = min(MAX_CANDIDATES, room * max(sizes.values()))
    # Not flushed at commit: the worker's start is (sql.write_transaction).
    with sql.write_transaction(synchronous=False):
        candidates = _candidates(runnable, want, now)
        allowance = _allowances(runnable, candidates, now)
        groups = _group(candidates, sizes, allowance, room)
        found = {c.job_id: c for c in candidates}
        chosen = [job_id for _, members in groups for job_id in members]
        if not chosen:
            return []
        # A claim is leased for LEASE_GRACE: its cluster renews the lease every RECLAIM_INTERVAL
        # while it holds the claim unstarted, and a worker's start leases it for the job's
        # timeout. A claim whose cluster is lost is back in the queue within LEASE_GRACE.
        params = [cluster, sql.when(lease_until(now, 0)), sql.when(now), *(sql.job_id(j) for j in chosen)]
        attempts = {sql.read_id(row[0]): int(row[2]) for row in sql.rows("mark_claimed", params, ids=len(chosen))}
        ratewindow.enter(
            (job_id, tid, found[job_id].partition or "")
            for tid, members in groups
            if is_rated(runnable[tid])
            for job_id in members
        )
        _served(
            sorted({(found[j].type_id, found[j].partition or "") for j in chosen if found[j].partition is not None}),
            now,
        )
    units = []
    for tid, members in groups:
        state = runnable[tid]
        jobs = tuple((job_id, attempts[job_id]) for job_id in members if job_id in attempts)
        if jobs:
            # Claim order puts a unit's highest priority first.
            first = found[jobs[0][0]].priority
            units.append(
                Unit(state.definition.name, mode_of(state), jobs, cluster, state.config.effective_timeout, first)
            )
    return units


def claim_job(job_id: str, cluster: str, now: datetime | None = None) -> Unit | None:
    """Claim one given waiting job now, whatever its type's limits, leased for its timeout:
    a unit of one, or None if the job was not waiting (`jobqueue.testing.run`)."""
    now = now or timezone.now()
    job = Job.objects.select_related("job_type").get(pk=job_id)
    state = type_state(job.job_type.name)
    timeout = state.config.effective_timeout
    params = [cluster, sql.when(lease_until(now, timeout)), sql.when(now), sql.job_id(job_id)]
    with sql.write_transaction():
        claimed = sql.rows("mark_claimed", params, ids=1)
    if not claimed:
        return None
    jobs = ((str(job_id), int(claimed[0][2])),)
    return Unit(state.definition.name, mode_of(state), jobs, cluster, timeout)


def _candidates(runnable: dict[int, TypeState], want: int, now: datetime) -> list[Candidate]:
    """Up to `want` ready jobs of each kind of type, in claim order (see the module docstring)."""
    plain = [tid for tid, state in runnable.items() if state.definition.partition is None]
    fair = [tid for tid, state in runnable.items() if state.definition.partition is not None]
    found: list[Candidate] = []
    if plain:
        rows = sql.rows("select_ready", [sql.when(now), *plain, want], types=len(plain))
        found = [Candidate(sql.read_id(r[0]), int(r[1]), int(r[2]), None, r[3]) for r in rows]
    if not fair:
        return found
    rows = sql.rows("select_ready_fair", [sql.when(now), *fair, want], types=len(fair))
    if rows:
        locked = {
            sql.read_id(r[0])
            for r in sql.rows("lock_ready", [sql.when(now), *(sql.job_id(r[0]) for r in rows)], ids=len(rows))
        }
        partitioned = [Candidate(sql.read_id(r[0]), int(r[1]), int(r[2]), str(r[3]), r[4]) for r in rows]
        return _merge(found, [c for c in partitioned if c.job_id in locked])
    return found


def _served(slots: list[tuple[int, str]], now: datetime) -> None:
    """The partitions these claims took a job of were served now (one upsert, in key order so
    that two clusters' claims take the rows' locks in the same order)."""
    if slots:
        # MariaDB / MySQL name no conflict target (ON DUPLICATE KEY: the unique key is the one).
        target = ["job_type", "partition_key"] if connection.features.supports_update_conflicts_with_target else None
        PartitionTurn.objects.bulk_create(
            [PartitionTurn(job_type_id=tid, partition_key=key, served_at=now) for tid, key in slots],
            update_conflicts=True,
            unique_fields=target,
            update_fields=["served_at"],
        )


def _merge(first: list[Candidate], second: list[Candidate]) -> list[Candidate]:
    """Two lists in claim order as one, each list's own order kept: the higher priority of the
    two next ones first, the one due earlier within a priority."""
    merged: list[Candidate] = []
    i = j = 0
    while i < len(first) and j < len(second):
        a, b = first[i], second[j]
        if (-a.priority, a.run_after) <= (-b.priority, b.run_after):
            merged.append(a)
            i += 1
        else:
            merged.append(b)
            j += 1
    return merged + first[i:] + second[j:]


Slot = tuple[int, str | None]  # a type, and a partition value of it (None: the whole type)


def _allowances(runnable: dict[int, TypeState], candidates: list[Candidate], now: datetime) -> dict[Slot, int]:
    """How many more jobs each gated type, and each partition value of a type with limits per
    value, among the candidates may start now. A gated type whose row another cluster has
    locked right now gets none this round."""
    gated = sorted({c.type_id for c in candidates if _limits(runnable[c.type_id])})
    if not gated:
        return {}
    locked = set(gated)
    if connection.features.has_select_for_update_skip_locked:
        locked = set(
            JobType.objects.select_for_update(skip_locked=True).filter(pk__in=gated).values_list("pk", flat=True)
        )
    running: dict[Slot, int] = {}
    counted = Job.objects.filter(status=Status.RUNNING, job_type_id__in=locked)
    for tid, key, n in counted.values_list("job_type_id", "partition_key").annotate(n=Count("id")):
        running[(tid, None)] = running.get((tid, None), 0) + n
        running[(tid, key)] = running.get((tid, key), 0) + n
    allowance: dict[Slot, int] = {}
    for tid in gated:
        config = runnable[tid].config
        if tid not in locked:
            allowance[(tid, None)] = 0
        elif config.concurrency or config.rate_limit:
            window = {None: ratewindow.started(tid, config.rate_limit.period, now)} if config.rate_limit else {}
            allowance[(tid, None)] = _room(config.concurrency, config.rate_limit, running.get((tid, None), 0), window)
    windows: dict[int, dict[str, int]] = {}
    for c in candidates:
        slot = (c.type_id, c.partition)
        if c.partition is None or slot in allowance or c.type_id not in locked:
            continue
        config = runnable[c.type_id].config
        limit, rate = config.partition_concurrency, config.partition_rate_limit
        if not (limit or rate):
            continue
        if rate and c.type_id not in windows:
            windows[c.type_id] = ratewindow.started_by_partition(c.type_id, rate.period, now)
        started = windows.get(c.type_id, {}).get(c.partition, 0)
        allowance[slot] = _room(limit, rate, running.get(slot, 0), {None: started} if rate else {})
    return allowance


def _limits(state: TypeState) -> bool:
    """Whether a type's claims are gated: a limit of its own, or one per partition value."""
    config = state.config
    per_value = state.definition.partition is not None and (config.partition_concurrency or config.partition_rate_limit)
    return bool(config.concurrency or config.rate_limit or per_value)


def _room(concurrency: int | None, rate: RateLimit | None, running: int, window: dict[None, int]) -> int:
    """Jobs that may start under a concurrency limit and a rate limit (either may be off)."""
    room = 1 << 30
    if concurrency:
        room = concurrency - running
    if rate:
        room = min(room, rate.count - window.get(None, 0))
    return room


def _group(
    candidates: list[Candidate], sizes: dict[int, int], allowance: dict[Slot, int], room: int
) -> list[tuple[int, list[str]]]:
    """Candidates into units, in claim order (see the module docstring)."""
    units: list[tuple[int, list[str]]] = []
    open_unit: dict[int, list[str]] = {}
    for c in candidates:
        slots = [slot for slot in ((c.type_id, None), (c.type_id, c.partition)) if slot in allowance]
        if any(allowance[slot] <= 0 for slot in slots):
            continue  # a full type or partition value cannot run anyway: it holds nothing back
        for slot in set(slots):
            allowance[slot] -= 1
        members = open_unit.get(c.type_id)
        if members is None or len(members) >= sizes[c.type_id]:
            if len(units) >= room:
                break
            members = []
            units.append((c.type_id, members))
            open_unit[c.type_id] = members
        members.append(c.job_id)
    return units
