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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Count
from django.utils import timezone
from django_q.brokers import Broker
from django_q.conf import Conf
from django_q.signing import SignedPackage

from jobqueue.conf import jobqueue_settings
from jobqueue.exceptions import JobQueueError
from jobqueue.models import ClusterHeartbeat, Job, JobType, Status
from jobqueue.services import lifecycle
from jobqueue.shutdown import shutting_down
from jobqueue.typeconfig import TypeState, type_states
from jobqueue.wakeup import Listener

logger = logging.getLogger("jobqueue")

HOST = socket.gethostname()
WAITING = ("queued", "scheduled", "retrying")


@dataclass(frozen=True)
class Claimed:
    job_id: str
    type_name: str
    attempt: int
    timeout: int


def _timeout(state: TypeState) -> int:
    return int(state.config.timeout or jobqueue_settings.DEFAULT_TIMEOUT)


def claim(limit: int, cluster: str, now: datetime | None = None) -> list[Claimed]:
    """Claim up to `limit` ready jobs: highest priority first, oldest first within a priority,
    only of enabled registered types, never past a type's concurrency across all clusters."""
    now = now or timezone.now()
    runnable = {s.type_id: s for s in type_states().values() if s.config.enabled}
    if not runnable or limit < 1:
        return []
    limits = {tid: int(s.config.concurrency) for tid, s in runnable.items() if s.config.concurrency}
    postgres = connection.vendor == "postgresql"
    table = Job._meta.db_table
    with transaction.atomic():
        eligible = list(runnable)
        if limits:
            running = _running_counts(list(limits))
            eligible = [tid for tid in runnable if tid not in limits or running.get(tid, 0) < limits[tid]]
            if not eligible:
                return []
        marks = ", ".join(["%s"] * len(eligible))
        states = ", ".join(["%s"] * len(WAITING))
        lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, job_type_id FROM {table} WHERE status IN ({states}) AND run_after <= %s "  # noqa: S608
                f"AND job_type_id IN ({marks}) ORDER BY priority DESC, run_after ASC LIMIT %s{lock}",
                [*WAITING, now, *eligible, limit],
            )
            candidates = cursor.fetchall()
        if not candidates:
            return []
        limited_here = sorted({tid for _, tid in candidates if tid in limits})
        if limited_here:
            candidates = _within_limits(candidates, limited_here, limits, postgres)
        if not candidates:
            return []
        lease = now + timedelta(
            seconds=max(_timeout(runnable[tid]) for _, tid in candidates) + int(jobqueue_settings.LEASE_GRACE)
        )
        ids = [job_id for job_id, _ in candidates]
        marks = ", ".join(["%s"] * len(ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = %s, attempts = attempts + 1, claimed_by = %s, "  # noqa: S608
                f"lease_expires_at = %s, started_at = NULL, worker = '' "
                f"WHERE id IN ({marks}) RETURNING id, job_type_id, attempts",
                [Status.RUNNING.value, cluster, lease, *ids],
            )
            rows = cursor.fetchall()
    order = {job_id: index for index, job_id in enumerate(ids)}
    rows.sort(key=lambda row: order[row[0]])
    return [
        Claimed(str(uuid.UUID(str(job_id))), runnable[tid].definition.name, attempts, _timeout(runnable[tid]))
        for job_id, tid, attempts in rows
    ]


def _running_counts(type_ids: list[int]) -> dict[int, int]:
    rows = (
        Job.objects.filter(status=Status.RUNNING, job_type_id__in=type_ids)
        .values_list("job_type_id")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def _within_limits(candidates: list[Any], limited: list[int], limits: dict[int, int], postgres: bool) -> list[Any]:
    """Drop candidates past their type's concurrency. On PostgreSQL the type rows are locked
    first (in id order, so clusters never deadlock) and the running jobs recounted under the
    lock: two clusters can never both take a type's last free slot."""
    if postgres:
        list(JobType.objects.select_for_update().filter(pk__in=limited).order_by("pk").values_list("pk"))
    running = _running_counts(limited)
    kept = []
    for job_id, tid in candidates:
        if tid in limits:
            if running.get(tid, 0) >= limits[tid]:
                continue
            running[tid] = running.get(tid, 0) + 1
        kept.append((job_id, tid))
    return kept


def package(claimed: Claimed, cluster: str) -> dict[str, Any]:
    """The django-q2 task package for one claim: a function reference and three plain values."""
    from jobqueue.runner import run_job

    return {
        "id": claimed.job_id,
        "name": f"{claimed.type_name}:{claimed.job_id}",
        "func": run_job,
        "args": (claimed.job_id, claimed.attempt, cluster),
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
        self._listener = Listener()
        self._idle_sleep = float(Conf.POLL)
        self._next_reclaim = 0.0
        self._next_heartbeat = 0.0
        self._claimed = 0
        self._started = timezone.now()

    def __getstate__(self) -> Any:
        return self.list_key, self._info, self.cluster_key

    def __setstate__(self, state: Any) -> None:
        self.list_key, self._info, self.cluster_key = state
        self.connection = self.get_connection(self.list_key)
        self.cache = self.get_cache()
        self._listener = Listener()
        self._idle_sleep = float(Conf.POLL)
        self._next_reclaim = 0.0
        self._next_heartbeat = 0.0
        self._claimed = 0
        self._started = timezone.now()

    def dequeue(self) -> list[tuple[str, str]] | None:
        if shutting_down():
            self._heartbeat(stopping=True)
            time.sleep(0.05)
            return None
        try:
            self._maybe_reclaim()
            claimed = claim(int(Conf.BULK), self.cluster_key)
            self._claimed += len(claimed)
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
        # never sleep past the moment the next scheduled or retrying job falls due.
        woken = self._listener.wait(min(self._idle_sleep, _seconds_to_next_due()))
        self._idle_sleep = float(Conf.POLL) if woken else min(self._idle_sleep * 2, _idle_poll_max())
        return None

    def _maybe_reclaim(self) -> None:
        now = time.monotonic()
        if now < self._next_reclaim:
            return
        self._next_reclaim = now + float(jobqueue_settings.RECLAIM_INTERVAL)
        if connection.get_autocommit():
            # Now and then rather than on every claim: a health check costs a round trip.
            close_old_connections()
        lifecycle.reclaim_lost(cluster=self.cluster_key, host=HOST, is_alive=_pid_alive)

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
        """Jobs are never deleted through django-q2; finished ones are pruned by retention."""

    def ping(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True

    def info(self) -> str:
        if not self._info:
            self._info = f"jobqueue ({connection.vendor})"
        return self._info
