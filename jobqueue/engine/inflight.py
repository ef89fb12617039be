"""What a cluster's processes share in memory, created before django-q2 forks them.

- how many units the cluster holds (waiting in its local queue or running): the pusher adds
  what it claims, a worker takes off what it finishes, so the pusher knows its room without
  a query;
- each type's recent time per job (an exponential average that workers update), from which
  the claim sizes chunks of short jobs;
- what each worker is running right now (a unit of many async jobs, or which job of a
  sequential unit), so that the reclaimer of a worker that died can tell the job that killed
  it from those the worker never reached;
- how many jobs its workers claimed themselves, topping up their async units (`engine.topup`),
  for the jobs claimed that the heartbeat reports;
- the priority of the most urgent unit waiting in the local queue for a worker, so that a
  worker running a chunk of lower-priority jobs stops between two of them and hands the rest
  back: the urgent unit then waits for one short job, not for a whole chunk.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from typing import Any

_SLOTS = 256  # workers tracked per cluster (django-q2 clusters rarely have more than a few dozen)
_TYPES = 512  # job types with a duration average

IDLE, SEQUENTIAL, CONCURRENT = 0, 1, 2
# How long a waiting unit's priority outranks running chunks unless a worker takes it: a
# unit lost on its way to a worker must not make chunks stop early for long.
URGENT_FOR = 1.0
_NOBODY = -1e9

_units: Any = None
_durations: Any = None  # per type slot: seconds per job (0.0: no history yet)
_type_slots: dict[str, int] = {}
_workers: Any = None  # per worker slot: pid, mode, job id high 64 bits, low 64 bits
_urgent: Any = None  # priority of the most urgent waiting unit, and until when (monotonic)
_topped: Any = None  # jobs the cluster's workers claimed topping up their async units
_mine: int | None = None  # this process's worker slot, once it has one
_warm: set[str] = set()  # the types this process has run a unit of (its first one is cold)


def install(type_names: list[str]) -> None:
    """Create the shared state (in the cluster's main process, before it forks)."""
    global _units, _durations, _workers, _urgent, _topped
    context = multiprocessing.get_context("fork")
    _units = context.Value("i", 0)
    _urgent = context.Array("d", [_NOBODY, 0.0])
    _topped = context.Value("q", 0)
    _durations = context.Array("d", _TYPES)
    _workers = context.Array("q", _SLOTS * 4)
    _type_slots.clear()
    _warm.clear()
    _type_slots.update({name: index for index, name in enumerate(sorted(type_names)[:_TYPES])})


def add(units: int) -> None:
    if _units is not None and units:
        with _units.get_lock():
            _units.value += units


def done(units: int = 1) -> None:
    if _units is not None and units:
        with _units.get_lock():
            _units.value = max(0, _units.value - units)


def held() -> int:
    return 0 if _units is None else int(_units.value)


def topped_up(jobs: int) -> None:
    """A worker claimed `jobs` more jobs for its running async unit (`engine.topup`)."""
    if _topped is not None and jobs:
        with _topped.get_lock():
            _topped.value += jobs


def topped() -> int:
    """Jobs the cluster's workers have claimed topping up their units since it started."""
    return 0 if _topped is None else int(_topped.value)


def waiting(priority: int) -> None:
    """A unit of this priority was queued for a worker (the pusher, after each claim)."""
    if _urgent is None:
        return
    now = time.monotonic()
    with _urgent.get_lock():
        if priority > _urgent[0] or now >= _urgent[1]:
            _urgent[0], _urgent[1] = float(priority), now + URGENT_FOR


def taken(priority: int) -> None:
    """A worker took a unit of this priority: nothing waits above it any more that it knows of."""
    if _urgent is None:
        return
    with _urgent.get_lock():
        if priority >= _urgent[0]:
            _urgent[0], _urgent[1] = _NOBODY, 0.0


def outranked(priority: int) -> bool:
    """Whether a unit of higher priority than `priority` waits for a worker."""
    if _urgent is None:
        return False
    with _urgent.get_lock():
        return bool(_urgent[0] > priority and time.monotonic() < _urgent[1])


def seconds_per_job(type_name: str) -> float:
    """The type's recent time per job in this cluster (0.0 when it has no history here)."""
    slot = _type_slots.get(type_name)
    return 0.0 if _durations is None or slot is None else float(_durations[slot])


def observe(type_name: str, seconds: float) -> None:
    """Fold what one job of a type cost its worker into the type's average (weight 1/4: follows
    change fast). A worker process's first unit of a type is left out: it pays for the
    process's first statements, caches and connection (about 100 ms in a drain, against 0.3 ms
    for a warm no-op job), and the average, starting there, would keep the type's units at one
    job for its first dozen units."""
    slot = _type_slots.get(type_name)
    if _durations is None or slot is None:
        return
    if type_name not in _warm:
        _warm.add(type_name)
        return
    with _durations.get_lock():
        old = _durations[slot]
        _durations[slot] = seconds if old <= 0.0 else old + (seconds - old) / 4


def running(mode: int, job_id: str | None = None) -> None:
    """Tell the cluster what this worker is running now (IDLE when done)."""
    if _workers is None:
        return
    global _mine
    pid = os.getpid()
    value = uuid.UUID(job_id).int if job_id else 0
    with _workers.get_lock():
        slot = _mine if _mine is not None and _workers[_mine * 4] == pid else _slot(pid, claim=True)
        _mine = slot
        if slot is not None:
            base = slot * 4
            _workers[base + 1] = mode
            _workers[base + 2] = (value >> 64) - (1 << 63)
            _workers[base + 3] = (value & ((1 << 64) - 1)) - (1 << 63)


def running_in(pid: int) -> tuple[int, str | None]:
    """What worker `pid` was running last: (mode, job id of a sequential unit)."""
    if _workers is None:
        return IDLE, None
    with _workers.get_lock():
        slot = _slot(pid, claim=False)
        if slot is None:
            return IDLE, None
        base = slot * 4
        mode = int(_workers[base + 1])
        value = ((_workers[base + 2] + (1 << 63)) << 64) | (_workers[base + 3] + (1 << 63))
        _workers[base] = 0  # the pid is gone: free its slot
        _workers[base + 1] = IDLE
    return mode, (str(uuid.UUID(int=value)) if mode == SEQUENTIAL and value else None)


def _slot(pid: int, *, claim: bool) -> int | None:
    free = None
    for index in range(_SLOTS):
        current = _workers[index * 4]
        if current == pid:
            return index
        if free is None and current == 0:
            free = index
    if claim and free is not None:
        _workers[free * 4] = pid
        return free
    return None
