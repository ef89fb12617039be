"""The django-q2 broker over the Job table: django-q2's pusher loop drives the engine's producer.

django-q2's pusher calls `dequeue()` in a loop and hands each package to a worker; each call
is one turn of the engine's `Producer` (claim, room, idle backoff, duties), and this module
only packages the units it returns. A package
names only `jobqueue.djangoq.entry.run` and a unit's plain values (type, job ids, attempts,
cluster), so no user data is pickled and no user input names code to run.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from django.db import connection
from django.utils import timezone
from django_q.brokers import Broker
from django_q.conf import Conf
from django_q.signing import SignedPackage

from jobqueue.djangoq.entry import run
from jobqueue.engine import inflight
from jobqueue.engine.producer import HOST, Producer
from jobqueue.engine.units import Claim, Unit
from jobqueue.exceptions import JobQueueError
from jobqueue.models import Job
from jobqueue.registry import registry


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
        self.producer = Producer(
            self.cluster_key,
            workers=int(Conf.WORKERS),
            capacity=int(Conf.WORKERS) + int(Conf.QUEUE_LIMIT or 0),
            poll=float(Conf.POLL),
            host=HOST,
        )

    @staticmethod
    def get_cache() -> None:
        """No cache for django-q2's cluster statistics: none are written. Its sentinel would save
        them every half second into the default cache, a database table unless REDIS_URL is set
        (a connection of the sentinel's own, held as long as the cluster runs, and a few queries
        a second); only django-q2's `qinfo` and `qmonitor` read them. The job queue records its
        live clusters in `ClusterHeartbeat` (the admin's dashboard, `/api/health/`)."""

    def __getstate__(self) -> Any:
        return self.list_key, self._info, self.cluster_key

    def __setstate__(self, state: Any) -> None:
        self.list_key, self._info, self.cluster_key = state
        self.connection = self.get_connection(self.list_key)
        self.cache = self.get_cache()
        self._local_state()

    def dequeue(self) -> list[tuple[str, str]] | None:
        units = self.producer.fetch()
        return [(p["id"], SignedPackage.dumps(p)) for p in map(package, units)] or None

    def acknowledge(self, task_id: str) -> None:
        """Nothing to do: the pipeline has already recorded the attempts in the same database."""

    def fail(self, task_id: str) -> None:
        """The pusher could not unpack a package: give its first job back without using its
        attempt (the unit's other jobs expire unstarted and are reclaimed)."""
        job_id, _, attempt = str(task_id).rpartition(":")
        if attempt.isdigit():
            self.producer.give_back(Claim(job_id, int(attempt), self.cluster_key))

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
