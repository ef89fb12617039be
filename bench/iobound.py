"""The I/O-bound drain: N jobs, each one GET that the delay server answers after a delay.

Runs inside a Django process (started by bench.probe): `run_ours` on bench.settings_ours with
the async type `bench_io_async` or the sync type `bench_io_sync`, `run_rawq` on
bench.settings_rawq (tuned) with the sync function `bench.rawq_tasks.io_sync`. The jobs are
queued before the cluster starts, as in the no-op drain, and the rate is taken the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.models import Max, Min
from django_q.models import OrmQ, Task
from django_q.tasks import async_task

from bench import ours, rawq
from bench.clusters import Cluster
from bench.measure import Incomplete, rate, wait_until
from jobqueue import enqueue_many

RAWQ_FUNC = "bench.rawq_tasks.io_sync"


def delay_url(server: str, delay_ms: int) -> str:
    return f"{server}/delay?ms={delay_ms}"


def run_ours(
    jobs: int, workers: int, server: str, delay_ms: int, type_name: str, log: str, timeout: float
) -> dict[str, Any]:
    """Drain `jobs` jobs of `type_name` (bench_io_async or bench_io_sync) with a fresh cluster."""
    ours.reset()
    url = delay_url(server, delay_ms)
    enqueue_many([{"type": type_name, "payload": {"url": url}}] * jobs)
    result: dict[str, Any] = {"type": type_name, "delay_ms": delay_ms, "drain_queued": jobs}
    cluster = Cluster(Path(log), workers)
    try:
        wait_until(
            lambda: ours.succeeded(type_name) >= jobs or not cluster.alive(),
            timeout,
            0.1,
            f"I/O drain of {type_name} did not finish",
        )
        result["drain_completed"] = ours.succeeded(type_name)
        if result["drain_completed"] != jobs:
            raise Incomplete(f"I/O drain: {result['drain_completed']} of {jobs} {type_name} jobs succeeded")
        result.update(ours.drain_window(jobs, type_name))
        last = ours.bench_attempts(type_name).aggregate(last=Max("finished_at"))["last"]
        result["drain_from_cluster_start_per_s"] = rate(jobs, cluster.started, last)
    finally:
        cluster.stop()
    return result


def run_rawq(jobs: int, workers: int, server: str, delay_ms: int, log: str, timeout: float) -> dict[str, Any]:
    """Drain `jobs` tasks of the sync I/O function with raw django-q2 (the mode it was started in)."""
    rawq.reset()
    url = delay_url(server, delay_ms)
    for _ in range(jobs):
        async_task(RAWQ_FUNC, url)
    result: dict[str, Any] = {"func": RAWQ_FUNC, "delay_ms": delay_ms, "drain_queued": jobs}
    watcher = rawq.FirstClaim()
    watcher.start()
    cluster = Cluster(Path(log), workers)
    try:
        wait_until(lambda: not OrmQ.objects.exists() or not cluster.alive(), timeout, 0.1, "I/O drain did not finish")
        watcher.stop.set()
        watcher.join()
        saved = Task.objects.filter(success=True).count()
        result["drain_completed"] = saved
        if saved != jobs:
            failed = Task.objects.filter(success=False).count()
            raise Incomplete(f"I/O drain: {saved} of {jobs} tasks succeeded, {failed} failed")
        span = Task.objects.aggregate(first=Min("stopped"), last=Max("stopped"))
        if watcher.at is not None:
            result["drain_per_s"] = rate(jobs, watcher.at, span["last"])
            result["drain_seconds"] = span["last"].timestamp() - watcher.at
        result["drain_from_cluster_start_per_s"] = rate(jobs, cluster.started, span["last"])
        result["drain_finish_to_finish_per_s"] = rate(jobs - 1, span["first"], span["last"])
    finally:
        watcher.stop.set()
        cluster.stop()
    return result
