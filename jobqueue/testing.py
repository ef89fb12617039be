"""Helpers for testing job types and the code that enqueues them, through the real pipeline.

- `run(job)` / `run_job_type(name, payload)`: claim that job and run it synchronously through
  the real pipeline (validation, checks, execute, decision, recording, hooks), no cluster;
- `drain()`: claim and run every ready job, in claim order, as a cluster would;
- `inline()`: a context in which every job enqueued runs as soon as its transaction commits;
- `enqueued()` / `assert_enqueued()`: what was enqueued, for tests of code that enqueues.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.db import transaction

from jobqueue.engine import enqueue as enqueueing
from jobqueue.engine.claim import claim_job
from jobqueue.engine.pipeline import run_unit
from jobqueue.engine.producer import Producer
from jobqueue.models import Job, JobQuerySet
from jobqueue.registry import resolve_definition

CLUSTER = "testing:0:inprocess"


def run(job: Job | str, cluster: str = CLUSTER) -> Job:
    """Claim this one job (it must be waiting) and run it now; return it as recorded."""
    job_id = str(job.pk if isinstance(job, Job) else job)
    unit = claim_job(job_id, cluster)
    if unit is None:
        raise AssertionError(f"job {job_id} could not be claimed")
    run_unit(unit)
    return Job.objects.get(pk=job_id)


def run_job_type(job_type: Any, payload: Any = None, **options: Any) -> Job:
    """Enqueue a job of `job_type` and run it now through the real pipeline."""
    return run(enqueueing.enqueue(job_type, payload, **options))


def drain(limit: int = 10_000, cluster: str = CLUSTER, room: int = 4) -> list[str]:
    """Claim and run ready jobs, unit by unit, as a cluster would, until none is ready (or
    `limit` jobs ran); return the status each job was left in, in the order they ran."""
    statuses: list[str] = []
    # The cluster's own producer, minus its loop: the same claims, unit sizes and order.
    producer = Producer(cluster, workers=room, capacity=room, poll=0.0)
    while len(statuses) < limit:
        units = producer.claim(room)
        if not units:
            break
        for unit in units:
            run_unit(unit)
            ids = [job_id for job_id, _ in unit.jobs]
            found = {str(pk): status for pk, status in Job.objects.filter(pk__in=ids).values_list("pk", "status")}
            statuses += [found.get(job_id, "missing") for job_id in ids]
    return statuses


@contextlib.contextmanager
def inline() -> Iterator[None]:
    """Within this block, every job enqueued runs (through the real pipeline) as soon as the
    transaction that enqueued it commits: for tests of code that enqueues."""
    previous = enqueueing.after_insert
    enqueueing.after_insert = lambda job: transaction.on_commit(lambda: run(job) and None)
    try:
        yield
    finally:
        enqueueing.after_insert = previous


def enqueued(job_type: Any = None) -> JobQuerySet:
    """The jobs enqueued so far (of one type, if given), oldest first."""
    jobs = Job.objects.select_related("job_type").order_by("created_at")
    if job_type is not None:
        name = job_type if isinstance(job_type, str) else resolve_definition(job_type).name
        jobs = jobs.filter(job_type__name=name)
    return jobs


def assert_enqueued(job_type: Any, payload: Any = None, *, count: int | None = None) -> list[Job]:
    """Assert that jobs of `job_type` were enqueued (with exactly this payload, if given, and
    `count` of them, if given); return them."""
    jobs = list(enqueued(job_type))
    if payload is not None:
        jobs = [job for job in jobs if job.payload == payload]
    if (count is None and not jobs) or (count is not None and len(jobs) != count):
        seen = [job.payload for job in enqueued(job_type)]
        wanted = "some" if count is None else count
        raise AssertionError(f"expected {wanted} {job_type} job(s) with payload {payload!r}; enqueued: {seen}")
    return jobs
