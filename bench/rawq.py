"""Side A, raw django-q2 on its ORM broker: enqueue rate, drain and latency of a no-op task.

Runs inside a Django process on bench.settings_rawq (started by bench.probe). django-q2's
Task.started is the enqueue time, not the start of execution, so the drain window opens when
a watcher thread first sees a claimed OrmQ row (polled every 5 ms), and enqueue-to-start
latency is not available for this side.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.db.models import Max, Min
from django.utils import timezone
from django_q.models import OrmQ, Task
from django_q.tasks import async_task

from bench.clusters import Cluster
from bench.measure import Incomplete, latency_summary, millis, rate, wait_until

FUNC = "bench.rawq_tasks.noop"


def reset() -> None:
    with connection.cursor() as cursor:
        for table in ("django_q_ormq", "django_q_task"):
            cursor.execute(f"DELETE FROM {table}")


def enqueue_single(count: int) -> float:
    """Tasks per second through `async_task`, as an application calls it (autocommit)."""
    began = time.perf_counter()
    for _ in range(count):
        async_task(FUNC)
    return count / (time.perf_counter() - began)


class FirstClaim(threading.Thread):
    """Records the moment the cluster first claims a task (an OrmQ lock set into the future)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.at: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if OrmQ.objects.filter(lock__gt=timezone.now()).exists():
                    self.at = time.time()
                    return
                time.sleep(0.005)
        finally:
            connections.close_all()


def run(jobs: int, workers: int, latency_jobs: int, interval: float, log: str, timeout: float) -> dict[str, Any]:
    """One repetition of side A in the configuration bench.settings_rawq was started with."""
    reset()
    mode = settings.RAWQ_MODE
    result: dict[str, Any] = {"mode": mode, "single_enqueue_per_s": enqueue_single(jobs)}
    watcher = FirstClaim()
    watcher.start()
    cluster = Cluster(Path(log), workers, BENCH_RAWQ_MODE=mode)
    try:
        # Acknowledged tasks leave OrmQ only after the monitor saved their result.
        wait_until(lambda: not OrmQ.objects.exists() or not cluster.alive(), timeout, 0.1, "drain did not finish")
        watcher.stop.set()
        watcher.join()
        left = OrmQ.objects.count()
        saved = Task.objects.filter(success=True).count()
        failed = Task.objects.filter(success=False).count()
        # With save_limit 250 only the newest 250 results are kept: completion is an empty OrmQ.
        expected = jobs if mode == "tuned" else min(jobs, 250)
        result.update(drain_queued=jobs, drain_completed=jobs - left if not failed and saved >= expected else 0)
        if result["drain_completed"] != jobs:
            raise Incomplete(f"drain: {left} tasks left in OrmQ, {saved} results saved, {failed} failed")
        span = Task.objects.aggregate(first=Min("stopped"), last=Max("stopped"))
        if watcher.at is not None:
            result["drain_per_s"] = rate(jobs, watcher.at, span["last"])
            result["drain_seconds"] = span["last"].timestamp() - watcher.at
        result["drain_from_cluster_start_per_s"] = rate(jobs, cluster.started, span["last"])
        if mode == "tuned":
            result["drain_finish_to_finish_per_s"] = rate(jobs - 1, span["first"], span["last"])
        if latency_jobs:
            result.update(latency(cluster, latency_jobs, interval, timeout))
    finally:
        watcher.stop.set()
        cluster.stop()
    return result


def latency(cluster: Cluster, count: int, interval: float, timeout: float) -> dict[str, Any]:
    ids = []
    for _ in range(count):
        ids.append(async_task(FUNC))
        time.sleep(interval)
    wait_until(
        lambda: Task.objects.filter(id__in=ids).count() == count or not cluster.alive(),
        timeout,
        what="latency tasks not all finished",
    )
    rows = list(Task.objects.filter(id__in=ids, success=True).values_list("started", "stopped"))
    if len(rows) != count:
        raise Incomplete(f"latency: {len(rows)} of {count} tasks finished")
    result = latency_summary([], [millis(enqueued, stopped) for enqueued, stopped in rows])
    result["latency_completed"] = len(rows)
    return result
