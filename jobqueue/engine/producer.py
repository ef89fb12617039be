"""The producer: one cluster's fetch loop, free of django-q2.

Each turn (`fetch()`) runs the cluster's periodic duties (reclaim, schedules, heartbeat),
claims as many units as the cluster has room for, and, when there is nothing to claim,
waits: up to an idle backoff that doubles to IDLE_POLL_MAX, never past the moment a waiting
job or a schedule slot falls due, and woken at once by a NOTIFY on PostgreSQL (or SQLite's
doorbell), when it claims in the same turn. A full cluster still takes one job that
outranks every unit it holds, as one unit over its capacity: a chunk of lower priority then
steps aside for it (`inflight`), so urgent work waits for neither a free slot nor a whole
chunk. The django-q2 adapter (`jobqueue.djangoq.broker`) calls `fetch()` from its
`dequeue()` and only packages the units; `jobqueue.testing.drain()` claims through the same
producer (`claim()`).
"""

from __future__ import annotations

import socket
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

from django.db import connection
from django.utils import timezone

from jobqueue.config.effective import type_states
from jobqueue.config.settings import jobqueue_settings
from jobqueue.engine import checkpoint, inflight, sql, transitions
from jobqueue.engine.duties import Claimer, Heartbeat, Reclaimer, Scheduler, pid_alive
from jobqueue.engine.shutdown import shutting_down
from jobqueue.engine.units import Claim, Unit
from jobqueue.engine.wakeup import Listener, supports_notify
from jobqueue.models import WAITING, Job

HOST = socket.gethostname()
# How long a full cluster waits before looking again: a shared-memory read, so a short wait
# costs no query.
FULL_WAIT = 0.003
# With no job waiting for a later time, an idle cluster looks again at least this often.
_NOTHING_DUE = 3600.0
# How often a full cluster looks for a job that outranks what it holds: a query on SQLite and
# MariaDB; on PostgreSQL only when a NOTIFY of such a priority arrived. Bounds the CRITICAL
# job's wait for a claim during a drain (docs/performance.md).
URGENT_LOOK = 0.005


class Producer:
    """The fetch loop of one cluster: `capacity` units in flight at most (its workers plus
    its local queue), polling every `poll` seconds while there is work."""

    def __init__(
        self,
        cluster: str,
        *,
        workers: int,
        capacity: int,
        poll: float,
        host: str = HOST,
        is_alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.cluster, self.capacity, self.poll = cluster, capacity, poll
        self.idle_sleep = poll
        self.listener = Listener()
        self.claimer = Claimer(cluster, self.room)
        self.reclaimer = Reclaimer(self.claimer, host, is_alive)
        self.scheduler = Scheduler()
        self.heartbeat = Heartbeat(cluster, workers, self.claimer)
        # The priorities of the last units claimed: the units in flight, near enough (they
        # finish in about the order they were claimed); the least of them is what a job must
        # outrank to be taken over capacity.
        self.recent: deque[int] = deque(maxlen=max(1, capacity))
        self.next_look = 0.0

    def room(self) -> int:
        """How many more units the cluster can take now."""
        return self.capacity - inflight.held()

    def fetch(self) -> list[Unit]:
        """One turn of the loop: the units claimed (handed to workers in this order), or none
        after waiting as long as there is nothing to do."""
        checkpoint.start_checkpointer()  # once, in the process that claims (SQLite only)
        if shutting_down():
            self.heartbeat.stop()
            time.sleep(0.05)
            return []
        self.reclaimer()
        self.scheduler()
        if self.room() <= 0:
            # Every worker busy and the local queue full: claim nothing (the adapter would
            # block handing it over, and stop beating, scheduling and reclaiming), unless
            # a job outranks every unit the cluster holds.
            self.heartbeat()
            return self._took(self._urgent())
        units = self._took(self.claimer() or [])
        self.heartbeat()
        if units:
            return units
        now = timezone.now()
        wait = min(self.idle_sleep, seconds_to_next_due(now), self.scheduler.seconds_to_next_slot())
        if self.listener.wait(wait):
            # Claim now, not a turn later: the pickup's latency is this wake-up and one claim.
            self.idle_sleep = self.poll
            return self._took(self.claimer() or [])
        self.idle_sleep = min(self.idle_sleep * 2, idle_poll_max())
        return []

    def _took(self, units: list[Unit]) -> list[Unit]:
        """Note what was claimed: the cluster is busy, chunks of lower priority step aside."""
        if units:
            self.idle_sleep = self.poll
            self.listener.worked()
            for unit in units:
                inflight.waiting(unit.priority)
                self.recent.append(unit.priority)
        return units

    def _urgent(self) -> list[Unit]:
        """While full: wait FULL_WAIT, then claim one job (a unit of one: its start is one row)
        if one outranks every unit in flight, at most one unit over capacity."""
        floor = min(self.recent, default=None)
        if self.room() < 0 or floor is None:
            time.sleep(FULL_WAIT)
            return []
        if supports_notify():
            # The notification says which priority arrived: claim at once, no query first. If
            # another cluster took that job, this claim takes the next in line, still only one
            # unit over capacity.
            if not self.listener.urgent(FULL_WAIT, floor):
                return []
        else:
            time.sleep(FULL_WAIT)
            now = time.monotonic()
            if now < self.next_look:
                return []
            self.next_look = now + URGENT_LOOK
            if not outranked(floor):
                return []
        return self.claimer.take(1, size=1)

    def claim(self, room: int | None = None) -> list[Unit]:
        """Claim up to `room` units (the cluster's room when not given) outside the loop, its
        errors raised: how `jobqueue.testing.drain()` takes work."""
        return self.claimer.take(self.room() if room is None else room)

    def give_back(self, claim: Claim) -> None:
        """A claimed job the adapter could not hand to a worker: back, its attempt unspent."""
        transitions.release(claim)
        inflight.done(1)


def outranked(priority: int) -> bool:
    """Whether the first ready job in claim order has a higher priority than `priority`: the
    claim's own statement for one row, so it reads the claim index's first entries on every
    database (on MariaDB its `FOR UPDATE`, in autocommit, holds nothing past the read)."""
    runnable = [s.type_id for s in type_states().values() if s.config.enabled]
    if not runnable:
        return False
    rows = sql.rows("select_ready", [sql.when(timezone.now()), *runnable, 1], types=len(runnable))
    return bool(rows) and int(rows[0][2]) > priority


def seconds_to_next_due(now: datetime) -> float:
    """Seconds until the first waiting job of a runnable type falls due (0 if one is due)."""
    runnable = [s.type_id for s in type_states().values() if s.config.enabled]
    due = (
        Job.objects.filter(status__in=WAITING, run_after__gt=now, job_type_id__in=runnable)
        .order_by("run_after")
        .values_list("run_after", flat=True)
        .first()
    )
    return _NOTHING_DUE if due is None else max(0.0, (due - now).total_seconds())


def idle_poll_max() -> float:
    """The IDLE_POLL_MAX setting for this database (a number, or one per vendor)."""
    setting = jobqueue_settings.IDLE_POLL_MAX
    if isinstance(setting, dict):
        return setting.get(connection.vendor, setting.get("default", 1.0))
    return setting
