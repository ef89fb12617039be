"""Claiming ready work as units: priority order, per-type concurrency and rate limits, leases.

One short write transaction per claim. Candidates come in claim order (highest priority,
then oldest); on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so clusters never wait on each
other's rows, and on SQLite under the write lock the transaction takes first. The rows of job
types with a concurrency or rate limit are locked (SKIP LOCKED, in id order: no deadlocks)
and their counts re-read under the lock, so two clusters never both take a type's last slot.

Candidates are grouped into units in that order: a job joins an open unit of its type that
has space, or opens one while the cluster has room; the first that fits nowhere ends the
claim, so a unit never takes a job ahead of a more urgent one left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from jobqueue.config.effective import TypeState, type_state, type_states
from jobqueue.engine import ratewindow, sql
from jobqueue.engine.lease import lease_until
from jobqueue.engine.units import Unit, mode_of
from jobqueue.models import Job, JobType, Status

# Candidates read per claim at most: enough to fill the room with full units.
MAX_CANDIDATES = 500

UnitSize = Callable[[TypeState], int]


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
    with sql.write_transaction():
        candidates = _candidates(list(runnable), want, now)
        allowance = _allowances(runnable, candidates, now)
        groups = _group(candidates, sizes, allowance, room)
        priority = {job_id: p for job_id, _, p in candidates}
        chosen = [job_id for _, members in groups for job_id in members]
        if not chosen:
            return []
        # A claim is leased for LEASE_GRACE: its cluster renews the lease every RECLAIM_INTERVAL
        # while it holds the claim unstarted, and a worker's start leases it for the job's
        # timeout. A claim whose cluster is lost is back in the queue within LEASE_GRACE.
        params = [cluster, sql.when(lease_until(now, 0)), sql.when(now), *(sql.job_id(j) for j in chosen)]
        attempts = {sql.read_id(row[0]): int(row[2]) for row in sql.rows("mark_claimed", params, ids=len(chosen))}
        ratewindow.enter(
            (job_id, tid) for tid, members in groups if runnable[tid].config.rate_limit for job_id in members
        )
    units = []
    for tid, members in groups:
        state = runnable[tid]
        jobs = tuple((job_id, attempts[job_id]) for job_id in members if job_id in attempts)
        if jobs:
            # Claim order puts a unit's highest priority first.
            first = priority[jobs[0][0]]
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


def _candidates(type_ids: list[int], want: int, now: datetime) -> list[tuple[str, int, int]]:
    found = sql.rows("select_ready", [sql.when(now), *type_ids, want], types=len(type_ids))
    return [(sql.read_id(job_id), int(tid), int(priority)) for job_id, tid, priority in found]


def _allowances(
    runnable: dict[int, TypeState], candidates: list[tuple[str, int, int]], now: datetime
) -> dict[int, int]:
    """How many more jobs each gated type among the candidates may start now. A gated type
    whose row another cluster has locked right now gets none this round."""
    gated = sorted(
        {tid for _, tid, _ in candidates if runnable[tid].config.concurrency or runnable[tid].config.rate_limit}
    )
    if not gated:
        return {}
    locked = set(gated)
    if connection.features.has_select_for_update_skip_locked:
        locked = set(
            JobType.objects.select_for_update(skip_locked=True).filter(pk__in=gated).values_list("pk", flat=True)
        )
    running = dict(
        Job.objects.filter(status=Status.RUNNING, job_type_id__in=locked)
        .values_list("job_type_id")
        .annotate(n=Count("id"))
    )
    allowance = dict.fromkeys(gated, 0)
    for tid in locked:
        config = runnable[tid].config
        room = 1 << 30
        if config.concurrency:
            room = int(config.concurrency) - running.get(tid, 0)
        if config.rate_limit:
            room = min(room, config.rate_limit.count - ratewindow.started(tid, config.rate_limit.period, now))
        allowance[tid] = room
    return allowance


def _group(
    candidates: list[tuple[str, int, int]], sizes: dict[int, int], allowance: dict[int, int], room: int
) -> list[tuple[int, list[str]]]:
    """Candidates into units, in claim order (see the module docstring)."""
    units: list[tuple[int, list[str]]] = []
    open_unit: dict[int, list[str]] = {}
    for job_id, tid, _ in candidates:
        if tid in allowance:
            if allowance[tid] <= 0:
                continue  # a full type cannot run anyway: it holds nothing back
            allowance[tid] -= 1
        members = open_unit.get(tid)
        if members is None or len(members) >= sizes[tid]:
            if len(units) >= room:
                break
            members = []
            units.append((tid, members))
            open_unit[tid] = members
        members.append(job_id)
    return units
