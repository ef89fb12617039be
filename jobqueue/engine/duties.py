"""The periodic duties of a cluster's pusher, each with its own interval, errors and log line.

- `Claimer`: claims units while the cluster has room, and remembers which claims it holds;
- `Reclaimer`: renews the leases of held claims, hands back claims it does not hold (a claim
  whose commit it never saw), and reclaims attempts whose worker is gone;
- `Scheduler`: turns due schedule slots into jobs;
- `Heartbeat`: tells the database this cluster is alive.

A duty that fails logs its own line and is tried again at its next turn; it never stops the
others. The engine's `Producer` runs them at each turn of its fetch loop.
"""

from __future__ import annotations

import abc
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from jobqueue.config.settings import jobqueue_settings
from jobqueue.engine import inflight, reclaim, scheduler, sql, transitions
from jobqueue.engine.claim import claim
from jobqueue.engine.lease import longest_lease
from jobqueue.engine.units import Unit, unit_size
from jobqueue.models import ClusterHeartbeat

logger = logging.getLogger("jobqueue")


class Duty(abc.ABC):
    """Something the pusher does every `interval` seconds, failing on its own."""

    name = "duty"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next_at = 0.0

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def __call__(self, now: float | None = None) -> Any:
        now = time.monotonic() if now is None else now
        if not self.due(now):
            return None
        self.next_at = now + self.interval
        try:
            return self.run()
        except Exception as exc:
            logger.exception("%s failed; trying again in %.1f s", self.name, self.interval)
            if isinstance(exc, DatabaseError):
                connection.close()
            return None

    @abc.abstractmethod
    def run(self) -> Any:
        """The duty itself; its errors are logged by __call__."""


class Claimer(Duty):
    """Claims units of work for this cluster and remembers the claims it holds unstarted."""

    name = "claiming jobs"

    def __init__(self, cluster: str, slots: Callable[[], int]) -> None:
        super().__init__(0.0)
        self.cluster = cluster
        self.slots = slots  # how many more units the cluster can take now
        self.held: dict[str, float] = {}  # job id -> when claimed (monotonic)
        self.claimed = 0

    def run(self) -> list[Unit]:
        return self.take(self.slots())

    def take(self, room: int, size: int | None = None) -> list[Unit]:
        """Claim up to `room` units now, of `size` jobs at most when given (errors raised, not
        logged: `run` is the duty)."""
        if room <= 0:
            return []
        sizing = unit_size if size is None else (lambda state: size)
        try:
            units = claim(room, self.cluster, sizing)
        except Exception:
            # The claim's commit may have happened without our seeing it: the Reclaimer
            # hands back whatever the database credits us with that we do not hold.
            self.next_at = time.monotonic() + 1.0
            raise
        now = time.monotonic()
        for unit in units:
            for job_id, _ in unit.jobs:
                self.held[job_id] = now
        inflight.add(len(units))
        self.claimed += sum(len(u.jobs) for u in units)
        return units


class Reclaimer(Duty):
    """Keeps this cluster's claims honest and recovers the attempts of lost workers.

    At each turn: renews, for LEASE_GRACE, the leases of the claims this cluster holds that no
    worker has started (`transitions.renew_held`), but for at most CLAIM_RENEW_FACTOR longest
    leases after the claim (one lost in transit to a worker is then left to expire and be
    reclaimed); hands back, attempts unspent, the claims the database credits to this cluster
    that it does not hold, a claim whose commit it never saw (`transitions.release_unheld`);
    and reclaims the attempts whose lease expired or whose worker died (`reclaim.reclaim_lost`).
    """

    name = "reclaiming jobs"

    def __init__(self, claimer: Claimer, host: str, is_alive: Callable[[int], bool]) -> None:
        super().__init__(jobqueue_settings.RECLAIM_INTERVAL)
        self.claimer, self.host, self.is_alive = claimer, host, is_alive

    def run(self) -> int:
        if connection.get_autocommit():
            # Now and then rather than on every claim: a health check costs a round trip.
            close_old_connections()
        cluster = self.claimer.cluster
        held = self.claimer.held
        # Claims not yet started keep their lease while they wait for a worker, but only
        # for a bounded time: one lost in transit to a worker is then left to expire.
        limit = longest_lease() * jobqueue_settings.CLAIM_RENEW_FACTOR
        now = time.monotonic()
        for job_id in [j for j, at in held.items() if now - at > limit]:
            del held[job_id]
        still = transitions.renew_held(cluster, list(held))
        for job_id in [j for j in held if j not in still]:
            del held[job_id]  # started (or finished) since: no longer ours to renew
        released = transitions.release_unheld(cluster, list(held), _ago(1.0))
        if released:
            logger.warning("handed back %s claim(s) this cluster never received: %s", len(released), released[:5])
        lost = reclaim.reclaim_lost(cluster=cluster, host=self.host, is_alive=self.is_alive)
        # A worker that died never gave its unit's slot back; a claim that expired unstarted
        # never reached a worker. Either way the slot is free again.
        gone = {job.worker for job in lost if job.claimed_by == cluster and job.worker}
        unstarted = sum(1 for job in lost if job.claimed_by == cluster and not job.worker)
        inflight.done(len(gone) + unstarted)
        return len(released) + len(lost)


class Scheduler(Duty):
    """Evaluates schedules every SCHEDULE_INTERVAL, and whenever a slot falls due."""

    name = "evaluating schedules"

    def __init__(self) -> None:
        super().__init__(jobqueue_settings.SCHEDULE_INTERVAL)
        self.next_slot = timezone.now()

    def due(self, now: float) -> bool:
        return now >= self.next_at or timezone.now() >= self.next_slot

    def run(self) -> None:
        scheduler.tick()
        self.next_slot = scheduler.next_slot(timezone.now()) or timezone.now() + timedelta(hours=1)

    def seconds_to_next_slot(self) -> float:
        return max(0.0, (self.next_slot - timezone.now()).total_seconds())


class Heartbeat(Duty):
    """Records that this cluster is alive (every HEARTBEAT_INTERVAL), or that it stops."""

    name = "recording the heartbeat"

    def __init__(self, cluster: str, workers: int, claimer: Claimer) -> None:
        super().__init__(jobqueue_settings.HEARTBEAT_INTERVAL)
        self.cluster, self.workers, self.claimer = cluster, workers, claimer
        self.started = timezone.now()
        self.stopped = False

    def run(self, stopping: bool = False) -> None:
        host, pid, _ = self.cluster.split(":", 2)
        # update_or_create reads, then writes: on SQLite it needs the write lock up front.
        with sql.write_transaction():
            self._beat(host, int(pid), stopping)

    def _beat(self, host: str, pid: int, stopping: bool) -> None:
        ClusterHeartbeat.objects.update_or_create(
            key=self.cluster,
            defaults={
                "host": host,
                "pid": pid,
                "workers": self.workers,
                "started_at": self.started,
                "last_seen_at": timezone.now(),
                # The pusher's claims and the workers' top-ups (engine.topup).
                "claimed": self.claimer.claimed + inflight.topped(),
                "stopped_at": timezone.now() if stopping else None,
            },
        )

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            try:
                self.run(stopping=True)
            except Exception:
                logger.exception("%s failed", self.name)


def _ago(seconds: float) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = ["Claimer", "Duty", "Heartbeat", "Reclaimer", "Scheduler", "pid_alive"]
