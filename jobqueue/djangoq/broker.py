"""The django-q2 broker over the Job table: django-q2's pusher loop drives the engine's duties.

django-q2's pusher calls `dequeue()` in a loop and hands each package to a worker. A package
names only `jobqueue.djangoq.entry.run` and a unit's plain values (type, job ids, attempts,
cluster), so no user data is pickled and no user input names code to run.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from django_q.brokers import Broker
from django_q.conf import Conf
from django_q.signing import SignedPackage

from jobqueue.conf import jobqueue_settings
from jobqueue.djangoq.entry import run
from jobqueue.engine import checkpoint, inflight, transitions
from jobqueue.engine.duties import Claimer, Heartbeat, Reclaimer, Scheduler, pid_alive
from jobqueue.engine.shutdown import shutting_down
from jobqueue.engine.units import Claim, Unit
from jobqueue.engine.wakeup import Listener
from jobqueue.exceptions import JobQueueError
from jobqueue.models import WAITING, Job
from jobqueue.registry import registry
from jobqueue.typeconfig import type_states

HOST = socket.gethostname()
# How long the pusher waits before looking again when the cluster has no room: a
# shared-memory read, so a short wait costs no query.
_FULL_WAIT = 0.003


def package(unit: Unit) -> dict[str, Any]:
    """The django-q2 task package for one unit: a function reference and plain values."""
    first = unit.jobs[0][0]
    return {
        "id": f"{first}:{unit.jobs[0][1]}",
        "name": f"{unit.type_name}:{first}" + (f"+{len(unit.jobs) - 1}" if len(unit.jobs) > 1 else ""),
        "func": run,
        "args": unit.as_args(),
        "kwargs": {},
        # django-q2's guard kills a worker past this; the pipeline keeps each job's own deadline.
        "timeout": unit.budget + 5,
        "save": False,
        "ack_failure": True,
        "started": timezone.now(),
    }


def _seconds_to_next_due(now: datetime) -> float:
    runnable = [s.type_id for s in type_states().values() if s.config.enabled]
    due = (
        Job.objects.filter(status__in=WAITING, run_after__gt=now, job_type_id__in=runnable)
        .order_by("run_after")
        .values_list("run_after", flat=True)
        .first()
    )
    return 3600.0 if due is None else max(0.0, (due - now).total_seconds())


def _idle_poll_max() -> float:
    setting = jobqueue_settings.IDLE_POLL_MAX
    if isinstance(setting, dict):
        value: Any = setting.get(connection.vendor, setting.get("default", 1.0))
        return float(value)
    return float(setting)


class JobBroker(Broker):
    """django-q2 broker over the Job table (set as Q_CLUSTER["broker_class"])."""

    def __init__(self, list_key: str | None = None) -> None:
        super().__init__(list_key=list_key)
        self.cluster_key = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]
        # The cluster's shared state, made before django-q2 forks the pusher and the workers.
        inflight.install([d.name for d in registry])
        self._local_state()

    def _local_state(self) -> None:
        """What each process keeps for itself: never pickled, made afresh after unpickling."""
        self._listener = Listener()
        self._idle_sleep = float(Conf.POLL)
        self.claimer = Claimer(self.cluster_key, self._room)
        self.reclaimer = Reclaimer(self.claimer, HOST, pid_alive)
        self.scheduler = Scheduler()
        self.heartbeat = Heartbeat(self.cluster_key, int(Conf.WORKERS), self.claimer)

    def __getstate__(self) -> Any:
        return self.list_key, self._info, self.cluster_key

    def __setstate__(self, state: Any) -> None:
        self.list_key, self._info, self.cluster_key = state
        self.connection = self.get_connection(self.list_key)
        self.cache = self.get_cache()
        self._local_state()

    @staticmethod
    def _room() -> int:
        return int(Conf.WORKERS) + int(Conf.QUEUE_LIMIT or 0) - inflight.held()

    def dequeue(self) -> list[tuple[str, str]] | None:
        checkpoint.start_checkpointer()  # once, in the pusher (SQLite only)
        if shutting_down():
            self.heartbeat.stop()
            time.sleep(0.05)
            return None
        self.reclaimer()
        self.scheduler()
        if self._room() <= 0:
            # Every worker busy and the local queue full: claim nothing (the pusher would
            # block handing it over, and stop beating, scheduling and reclaiming).
            self.heartbeat()
            time.sleep(_FULL_WAIT)
            return None
        units = self.claimer() or []
        self.heartbeat()
        if units:
            self._idle_sleep = float(Conf.POLL)
            for unit in units:
                inflight.waiting(unit.priority)
            return [(p["id"], SignedPackage.dumps(p)) for p in map(package, units)]
        # Idle: back off up to IDLE_POLL_MAX, but wake at once on a NOTIFY (PostgreSQL) and
        # never sleep past the moment a scheduled or retrying job, or a schedule slot, falls due.
        now = timezone.now()
        wait = min(self._idle_sleep, _seconds_to_next_due(now), self.scheduler.seconds_to_next_slot())
        woken = self._listener.wait(wait)
        self._idle_sleep = float(Conf.POLL) if woken else min(self._idle_sleep * 2, _idle_poll_max())
        return None

    def acknowledge(self, task_id: str) -> None:
        """Nothing to do: the pipeline has already recorded the attempts in the same database."""

    def fail(self, task_id: str) -> None:
        """The pusher could not unpack a package: give its first job back without using its
        attempt (the unit's other jobs expire unstarted and are reclaimed)."""
        job_id, _, attempt = str(task_id).rpartition(":")
        if attempt.isdigit():
            transitions.release(Claim(job_id, int(attempt), self.cluster_key))
            inflight.done(1)

    def enqueue(self, task: Any) -> str:
        raise JobQueueError(
            "django-q2's async_task() cannot enqueue onto the job queue: declare a job type with "
            "@job and call jobqueue.enqueue(...) instead"
        )

    def queue_size(self) -> int:
        return Job.objects.ready().filter(job_type__registered=True).count()

    def lock_size(self) -> int:
        return Job.objects.running().count()

    def purge_queue(self) -> None:
        raise JobQueueError("purging is not supported: cancel jobs through jobqueue.services.cancel")

    def delete_queue(self) -> None:
        self.purge_queue()

    def delete(self, task_id: str) -> None:
        """Jobs are never deleted through django-q2; finished ones are pruned by retention (jobqueue_prune)."""

    def ping(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True

    def info(self) -> str:
        if not self._info:
            self._info = f"jobqueue ({connection.vendor})"
        return self._info
