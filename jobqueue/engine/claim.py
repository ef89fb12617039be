"""Claiming ready work as units: priority order, per-type (or per-partition) concurrency and
rate limits, round robin across partitions, leases.

One short write transaction per claim. Candidates come in claim order (highest priority,
then oldest); on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so clusters never wait on each
other's rows, and on SQLite under the write lock the transaction takes first. The rows of job
types with a concurrency or rate limit are locked (SKIP LOCKED, in id order: no deadlocks)
and their counts re-read under the lock, so two clusters never both take a type's last slot.

A partitioned type (`@job(partition=...)`) holds its concurrency and rate limit per partition
value: the same type lock, with counts grouped by value (one query each, whatever the number
of values). Its ready jobs are read round robin across values without reading the backlog:
the next values in turn order (`PartitionTurn`, served longest ago first) with each one's
head, one index descent per value (`select_heads`); one seek on the claim index for the
first ready job of those types keeps strict priority (`best_ready`: a more urgent job than
every head sends the claim to the window query for that priority and above; a first job
whose value has no turn goes first, and its value gets a turn back when served); with fewer
values than jobs wanted, several jobs per value, turn by turn (`select_from_values`). They
are locked by id and merged with the other types' candidates by priority, then by when each
was due.

A value probed without a ready job is parked (`_park`): with a job that may be ready later
(waiting but not due, running, or blocked on dependencies) it goes to the back of the turn
order; with no job at all it loses its turn (`served_at` NULL), so drained values are not
probed claim after claim. Running and blocked jobs count because they may wait again without
an enqueue (a retry, a give-back, a released dependent); a finished job comes back only
through an enqueue or a re-armed dependent, and both fill the value (`engine.turns`). The
race that matters is an enqueue into a value while a claim takes its turn away. Every fill
happens in the enqueue's transaction and adds one to the row's `fills`; the claim notes
`fills` in the statement that found no job, locks the row (SKIP LOCKED: a row an enqueue is
filling is left alone, and no claim waits on an enqueue), asks again whether the value has a
job, and clears the turn only if `fills` under the lock is still the one noted.
- PostgreSQL (READ COMMITTED): an enqueue that filled the row before the lock is either
  uncommitted (the row is locked: skipped) or committed (its `fills` is newer: kept); one
  that fills after the lock waits for the claim's commit and then gives the turn back
  (`served_at` NULL becomes never served). Each statement reads a fresh snapshot, so the
  check after the lock also sees every job committed before it.
- SQLite: claims and enqueues hold the database's write lock for their whole transaction
  (`sql.write_transaction`): they never interleave.
- MariaDB (REPEATABLE READ): the claim's reads keep the snapshot of its first read, so the
  check after the lock may miss a job committed since; but the lock is a locking read of the
  latest row, whose `fills` then differs from the one noted, and the turn is kept.
`tests/test_partitions.py` races an enqueuing thread against claims that keep emptying values.

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
# Partition values probed per claim beyond the jobs it wants (some may have no ready job).
PROBE_EXTRA = 8
# When fewer values than the jobs wanted have a head, and at most this many, the claim takes
# several jobs of each (one statement with a subquery per value).
MANY_VALUES = 64
# Below every priority a job can have (a smallint).
LOWEST_PRIORITY = -32769

UnitSize = Callable[[TypeState], int]


class Candidate(NamedTuple):
    """A ready job as the claim reads it; `partition` is None for a type without partitions."""

    job_id: str
    type_id: int
    priority: int
    partition: str | None
    run_after: Any


def claim(
    room: int,
    cluster: str,
    unit_size: UnitSize | None = None,
    now: datetime | None = None,
    *,
    only: int | None = None,
) -> list[Unit]:
    """Claim up to `room` units of ready work for `cluster`. `unit_size` says how many jobs
    of a type one unit may hold (one each when not given); `only`, a type id, restricts the
    claim to that type's jobs (a running async unit's top-up, `engine.topup`)."""
    now = now or timezone.now()
    runnable = {s.type_id: s for s in type_states().values() if s.config.enabled and only in (None, s.type_id)}
    if not runnable or room < 1:
        return []
    size = unit_size or (lambda state: 1)
    sizes = {tid: max(1, size(state)) for tid, state in runnable.items()}
    want = min(MAX_CANDIDATES, room * max(sizes.values()))
    # Not flushed at commit: the worker's start is (sql.write_transaction).
    with sql.write_transaction(synchronous=False, index_order=True):
        candidates, probe = _candidates(runnable, want, now)
        allowance = _allowances(runnable, candidates, now)
        groups = _group(candidates, sizes, allowance, room)
        found = {c.job_id: c for c in candidates}
        chosen = [job_id for _, members in groups for job_id in members]
        full = {
            (c.type_id, c.partition)
            for c in candidates
            if c.partition is not None and allowance.get((c.type_id, c.partition), 1) <= 0
        }
        served = {(found[j].type_id, found[j].partition or "") for j in chosen if found[j].partition is not None}
        _park(probe, {(tid, key or "") for tid, key in full} - served, now)
        if not chosen:
            return []
        # A claim is leased for LEASE_GRACE: its cluster renews the lease every RECLAIM_INTERVAL
        # while it holds the claim unstarted, and a worker's start leases it for the job's
        # timeout. A claim whose cluster is lost is back in the queue within LEASE_GRACE.
        params = [cluster, sql.when(lease_until(now, 0)), sql.when(now), *sql.job_ids(chosen)]
        attempts = {sql.read_id(row[0]): int(row[2]) for row in sql.rows("mark_claimed", params, ids=len(chosen))}
        ratewindow.enter(
            (job_id, tid, found[job_id].partition or "")
            for tid, members in groups
            if is_rated(runnable[tid])
            for job_id in members
        )
        _served(sorted(served), probe, now)
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


class Probe(NamedTuple):
    """What a claim learnt of the partition values it probed: each value's turn id, and the
    fills of those it found without a ready job."""

    turns: dict[tuple[int, str], int]
    headless: dict[int, int]


NO_PROBE = Probe({}, {})


def _candidates(runnable: dict[int, TypeState], want: int, now: datetime) -> tuple[list[Candidate], Probe]:
    """Up to `want` ready jobs of each kind of type, in claim order (see the module docstring)."""
    plain = [tid for tid, state in runnable.items() if state.definition.partition is None]
    fair = [tid for tid, state in runnable.items() if state.definition.partition is not None]
    found: list[Candidate] = []
    # With partitioned types in the claim, their backlog may fill the claim index ahead of
    # every plain job: ask first whether a plain job is ready at all (one probe per type).
    if plain and (not fair or sql.rows("any_ready", [sql.when(now), *plain], types=len(plain))):
        rows = sql.rows("select_ready", [sql.when(now), *plain, want], types=len(plain))
        found = [Candidate(sql.read_id(r[0]), int(r[1]), int(r[2]), None, r[3]) for r in rows]
    if not fair:
        return found, NO_PROBE
    partitioned, probe = _fair(fair, want, now)
    if partitioned:
        ids = sql.job_ids(c.job_id for c in partitioned)
        locked = {sql.read_id(r[0]) for r in sql.rows("lock_ready", [sql.when(now), *ids], ids=len(ids))}
        return _merge(found, [c for c in partitioned if c.job_id in locked]), probe
    return found, probe


def _fair(fair: list[int], want: int, now: datetime) -> tuple[list[Candidate], Probe]:
    """The partitioned types' candidates, in claim order: the heads of the next values in turn
    order, strict priority first; several jobs of each value when few values have a head; the
    window query when a job of a higher priority than every head waits elsewhere."""
    rows = sql.rows("select_heads", [sql.when(now), *fair, min(MAX_CANDIDATES, want + PROBE_EXTRA)], types=len(fair))
    probe = Probe(
        {(int(r[1]), str(r[2])): int(r[0]) for r in rows}, {int(r[0]): int(r[3]) for r in rows if r[4] is None}
    )
    heads = [Candidate(sql.read_id(r[4]), int(r[1]), int(r[5]), str(r[2]), r[6]) for r in rows if r[4] is not None]
    if heads:
        # Strict priority: is a job more urgent than every head waiting in a value further on?
        top = max(c.priority for c in heads)
        above = sql.rows("best_ready", [sql.when(now), *fair, top], types=len(fair))
        if above:
            # Rank the ready jobs of its priority and above (few, unless that backlog is large).
            params = [sql.when(now), *fair, int(above[0][2]), want]
            rows = sql.rows("select_ready_fair", params, types=len(fair))
            return [Candidate(sql.read_id(r[0]), int(r[1]), int(r[2]), str(r[3]), r[4]) for r in rows], probe
    elif sql.rows("any_ready", [sql.when(now), *fair], types=len(fair)):
        # No head among the values probed, yet jobs wait: all probed values are parked below,
        # or a job's value has no turn. The first ready job in claim order goes, and its value
        # gets a turn when served.
        first = sql.rows("best_ready", [sql.when(now), *fair, LOWEST_PRIORITY], types=len(fair))
        heads = [Candidate(sql.read_id(r[0]), int(r[1]), int(r[2]), str(r[3]), r[4]) for r in first]
    if heads and len(heads) < want and len(heads) <= MANY_VALUES:
        heads = _several(heads, probe, -(-want // len(heads)), now)
    # Strict priority; within one, the turn order (a stable sort keeps it).
    return sorted(heads, key=lambda c: -c.priority), probe


def _several(heads: list[Candidate], probe: Probe, each: int, now: datetime) -> list[Candidate]:
    """Up to `each` ready jobs of each value that has a head, turn-major: every value's first
    job of a priority, then every value's second... (one statement)."""
    values = [(c.type_id, c.partition or "") for c in heads]
    known = [v for v in dict.fromkeys(values) if v in probe.turns]
    if not known:
        return heads
    params = [p for v in known for p in (probe.turns[v], sql.when(now), each)]
    rows = sql.rows("select_from_values", params, values=len(known))
    place = {v: i for i, v in enumerate(values)}
    by_value: dict[tuple[int, str], list[Candidate]] = {}
    for r in rows:
        c = Candidate(sql.read_id(r[0]), int(r[1]), int(r[2]), str(r[3]), r[4])
        by_value.setdefault((c.type_id, c.partition or ""), []).append(c)
    ranked: list[tuple[int, int, int, Candidate]] = []
    for value, jobs in by_value.items():
        jobs.sort(key=lambda c: (-c.priority, c.run_after, c.job_id))
        seen: dict[int, int] = {}
        for c in jobs:
            rank = seen[c.priority] = seen.get(c.priority, -1) + 1
            ranked.append((-c.priority, rank, place[value], c))
    taken = {c.job_id for *_, c in ranked}
    # A head of a value not probed (the first job in claim order, above) keeps its place.
    ranked += [(-c.priority, 0, place[(c.type_id, c.partition or "")], c) for c in heads if c.job_id not in taken]
    ranked.sort(key=lambda r: r[:3])
    return [c for *_, c in ranked]


def _park(probe: Probe, passed: set[tuple[int, str]], now: datetime) -> None:
    """The values probed without a ready job: a value with no job left at all loses its turn
    (served_at NULL) unless an enqueue filled it since the probe (`fills` moved); one with a
    job that may be ready later (scheduled, running, blocked) goes to the back of the turn
    order, as does a value whose head was passed over because its limit is full. Rows another
    transaction is writing are left alone (SKIP LOCKED): the claim never waits on an enqueue."""
    headless = probe.headless
    rotate = {probe.turns[v] for v in passed if v in probe.turns} - set(headless)
    if headless:
        ids = sorted(headless)
        locked = {int(r[0]): int(r[1]) for r in sql.rows("lock_turns", ids, ids=len(ids))}
        live = {int(r[0]) for r in sql.rows("live_values", ids, ids=len(ids))}
        empty = sorted(i for i, fills in locked.items() if i not in live and fills == headless[i])
        if empty:
            sql.run("set_turns", [None, *empty], ids=len(empty))
        rotate |= {i for i in locked if i in live}
    if rotate:
        _set_served(sorted(rotate), now)


def _set_served(ids: list[int], now: datetime) -> None:
    locked = [int(r[0]) for r in sql.rows("lock_turns", ids, ids=len(ids))]
    if locked:
        sql.run("set_turns", [sql.when(now), *locked], ids=len(locked))


def _served(slots: list[tuple[int, str]], probe: Probe, now: datetime) -> None:
    """The partitions these claims took a job of were served now: the probed ones' rows set
    (those no other transaction is writing), in id order; the others' rows upserted (a value
    served from the window query or the first job in claim order, which may have no turn)."""
    known = sorted(probe.turns[slot] for slot in slots if slot in probe.turns)
    if known:
        _set_served(known, now)
    others = [slot for slot in slots if slot not in probe.turns]
    if others:
        # MariaDB / MySQL name no conflict target (ON DUPLICATE KEY: the unique key is the one).
        target = ["job_type", "partition_key"] if connection.features.supports_update_conflicts_with_target else None
        PartitionTurn.objects.bulk_create(
            [PartitionTurn(job_type_id=tid, partition_key=key, served_at=now) for tid, key in others],
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
    gated = sorted({c.type_id for c in candidates if limited(runnable[c.type_id])})
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


def limited(state: TypeState) -> bool:
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
