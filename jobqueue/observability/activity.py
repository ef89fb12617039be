"""What each cluster is doing now: its workers and the jobs they run (from the running Job rows:
`claimed_by` is the cluster's key, `worker` its host:pid), and the clusters gone stale."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from jobqueue.models import Job
from jobqueue.observability.metrics import Cluster, clusters

# Running jobs listed at most (a page, not a report).
MAX_RUNNING = 500


@dataclass(frozen=True)
class RunningJob:
    job_id: uuid.UUID
    job_type: str
    worker: str
    started_at: datetime | None
    progress: float | None
    progress_message: str
    cluster: str


@dataclass
class ClusterActivity:
    cluster: Cluster
    running: list[RunningJob] = field(default_factory=list)

    @property
    def idle(self) -> int:
        return max(self.cluster.workers - len(self.running), 0)

    def by_worker(self) -> list[tuple[str, list[RunningJob]]]:
        workers: dict[str, list[RunningJob]] = defaultdict(list)
        for job in self.running:
            workers[job.worker or "(not started yet)"].append(job)
        return sorted(workers.items())


@dataclass(frozen=True)
class Activity:
    now: datetime
    live: list[ClusterActivity]
    stale: list[ClusterActivity]  # lost (silent for 3 heartbeats) or stopped, with when last seen
    unowned: list[RunningJob]  # running jobs whose cluster sent no heartbeat in the last day


def activity(now: datetime | None = None, keep_stale: timedelta = timedelta(days=1)) -> Activity:
    now = now or timezone.now()
    by_key = {c.key: ClusterActivity(c) for c in clusters(now, keep_stopped=keep_stale)}
    unowned: list[RunningJob] = []
    rows = (
        Job.objects.running()
        .order_by("started_at")
        .values_list("pk", "job_type__name", "worker", "started_at", "progress", "progress_message", "claimed_by")
    )
    for pk, name, worker, started, progress, message, claimed_by in rows[:MAX_RUNNING]:
        job = RunningJob(pk, name, worker, started, progress, message, claimed_by)
        (by_key[claimed_by].running if claimed_by in by_key else unowned).append(job)
    live = [a for a in by_key.values() if a.cluster.live]
    stale = sorted(
        (a for a in by_key.values() if not a.cluster.live), key=lambda a: a.cluster.last_seen_at, reverse=True
    )
    return Activity(now, live, stale, unowned)
