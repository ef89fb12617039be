"""The django-q2 broker over the Job table: claim in priority order under leases, and reclaim.

django-q2's pusher calls `dequeue()` in a loop and hands each package to a worker; the
package names only `jobqueue.runner.run_job` and the claim (job id, attempt, cluster), so
no user data is pickled and no user input names code to run.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from django_q.brokers import Broker
from django_q.conf import Conf
from django_q.signing import SignedPackage

from jobqueue import inflight
from jobqueue.claim import WAITING, Claimed, claim
from jobqueue.conf import jobqueue_settings
from jobqueue.exceptions import JobQueueError
from jobqueue.models import ClusterHeartbeat, Job
from jobqueue.services import lifecycle
from jobqueue.shutdown import shutting_down
from jobqueue.typeconfig import type_states
from jobqueue.wakeup import Listener

logger = logging.getLogger("jobqueue")

HOST = socket.gethostname()
# How long the pusher waits before looking again when the cluster has no room.
_FULL_WAIT = 0.003


def package(claimed: Claimed, cluster: str) -> dict[str, Any]:
    """The django-q2 task package for one claim: a function reference and plain values."""
    from jobqueue.runner import run_job

    return {
        "id": claimed.job_id,
        "name": f"{claimed.type_name}:{claimed.job_id}",
        "func": run_job,
        "args": (claimed.job_id, claimed.attempt, cluster, claimed.batch, claimed.type_name),
        "kwargs": {},
        "timeout": claimed.timeout,
        "save": False,
        "ack_failure": True,
        "started": timezone.now(),
    }


def _seconds_to_next_due() -> float:
    runnable = [s.type_id for s in type_states().values() if s.config.enabled]
    now = timezone.now()
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobBroker(Broker):
    """django-q2 broker over the Job table (set as Q_CLUSTER["broker_class"])."""

    def __init__(self, list_key: str | None = None) -> None:
        super().__init__(list_key=list_key)
        self.cluster_key = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]
        inflight.install()
        self._local_state()

    def _local_state(self) -> None:
        """What each process keeps for itself: never pickled, made afresh after unpickling."""
        self._listener = Listener()
        self._idle_sleep = float(Conf.POLL)
        self._next_reclaim = 0.0
        self._next_heartbeat = 0.0
        self._next_schedule = 0.0
        self._next_slot = timezone.now()
        self._claimed = 0
        self._started = timezone.now()

    def __getstate__(self) -> Any:
        return self.list_key, self._info, self.cluster_key

    def __setstate__(self, state: Any) -> None:
        self.list_key, self._info, self.cluster_key = state
        self.connection = self.get_connection(self.list_key)
        self.cache = self.get_cache()
        self._local_state()

    def dequeue(self) -> list[tuple[str, str]] | None:
        if shutting_down():
            self._heartbeat(stopping=True)
            time.sleep(0.05)
            return None
        try:
            self._maybe_reclaim()
            self._maybe_schedule()
            room = int(Conf.WORKERS) + int(Conf.QUEUE_LIMIT or 0) - inflight.held()
            if room <= 0:
                self._heartbeat()
                # Every worker busy and the local queue full: claim nothing (the pusher would
                # block handing it over, and stop beating, scheduling and reclaiming). The
                # check is a shared-memory read, so a short wait costs no query.
                time.sleep(_FULL_WAIT)
                return None
            claimed = claim(min(int(Conf.BULK), room), self.cluster_key)
            jobs = sum(1 + len(c.batch) for c in claimed)
            inflight.add(jobs)
            self._claimed += jobs
            self._heartbeat()
        except Exception as exc:
            # A failure here must not kill the pusher: django-q2 would sleep 10 s, then let
            # the sentinel start another. Log it, drop a possibly broken connection, go on.
            logger.exception("claiming jobs failed; retrying in 1 s")
            if isinstance(exc, DatabaseError):
                connection.close()
            time.sleep(1.0)
            return None
        if claimed:
            self._idle_sleep = float(Conf.POLL)
            return [(f"{c.job_id}:{c.attempt}", SignedPackage.dumps(package(c, self.cluster_key))) for c in claimed]
        # Idle: back off up to IDLE_POLL_MAX, but wake at once on a NOTIFY (PostgreSQL) and
        # never sleep past the moment a scheduled or retrying job, or a schedule slot, falls due.
        woken = self._listener.wait(min(self._idle_sleep, _seconds_to_next_due(), self._seconds_to_next_slot()))
        self._idle_sleep = float(Conf.POLL) if woken else min(self._idle_sleep * 2, _idle_poll_max())
        return None

    def _maybe_schedule(self) -> None:
        """Evaluate schedules every SCHEDULE_INTERVAL (record edits) and whenever a slot is due."""
        from jobqueue.scheduling import next_slot, tick

        now = time.monotonic()
        if now < self._next_schedule and timezone.now() < self._next_slot:
            return
        self._next_schedule = now + float(jobqueue_settings.SCHEDULE_INTERVAL)
        tick()
        self._next_slot = next_slot(timezone.now()) or timezone.now() + timedelta(hours=1)

    def _seconds_to_next_slot(self) -> float:
        return max(0.0, (self._next_slot - timezone.now()).total_seconds())

    def _maybe_reclaim(self) -> None:
        now = time.monotonic()
        if now < self._next_reclaim:
            return
        self._next_reclaim = now + float(jobqueue_settings.RECLAIM_INTERVAL)
        if connection.get_autocommit():
            # Now and then rather than on every claim: a health check costs a round trip.
            close_old_connections()
        lifecycle.renew_claims(self.cluster_key)
        lifecycle.reclaim_lost(
            cluster=self.cluster_key,
            host=HOST,
            is_alive=_pid_alive,
            on_reclaim=lambda job: inflight.done(1) if job.claimed_by == self.cluster_key else None,
        )

    def _heartbeat(self, stopping: bool = False) -> None:
        """Tell the database this cluster is alive (every HEARTBEAT_INTERVAL), or stopping."""
        now = time.monotonic()
        if now < self._next_heartbeat and not stopping:
            return
        if stopping and self._next_heartbeat == float("inf"):
            return
        self._next_heartbeat = float("inf") if stopping else now + float(jobqueue_settings.HEARTBEAT_INTERVAL)
        host, pid, _ = self.cluster_key.split(":", 2)
        ClusterHeartbeat.objects.update_or_create(
            key=self.cluster_key,
            defaults={
                "host": host,
                "pid": int(pid),
                "workers": int(Conf.WORKERS),
                "started_at": self._started,
                "last_seen_at": timezone.now(),
                "claimed": self._claimed,
                "stopped_at": timezone.now() if stopping else None,
            },
        )

    def acknowledge(self, task_id: str) -> None:
        """Nothing to do: run_job has already recorded the attempt in the same database."""

    def fail(self, task_id: str) -> None:
        """The pusher could not unpack a package: give the job back without using its attempt."""
        job_id, _, attempt = str(task_id).rpartition(":")
        if attempt.isdigit():
            lifecycle.release(lifecycle.Claim(job_id, int(attempt), self.cluster_key))
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
