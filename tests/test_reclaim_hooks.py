"""on_failure / on_dead for attempts the reclaimer closes, run by the built-in jobqueue_hook type."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pydantic
import pytest
from django.utils import timezone

from jobqueue import BaseJob, WorkerLost, enqueue, job
from jobqueue.engine import transitions
from jobqueue.engine.reclaim import reclaim_lost
from jobqueue.engine.units import Claim
from jobqueue.models import Job, Status
from jobqueue.registry import registry
from tests.helpers import CLUSTER, claim, drain

pytestmark = pytest.mark.django_db

CALLS: list[tuple[str, str, int, Any, WorkerLost]] = []


@pytest.fixture
def hooked_types() -> Iterator[None]:
    CALLS.clear()
    with registry.scope():

        class Recording(BaseJob):
            class Payload(pydantic.BaseModel):
                item: int

            def execute(self, ctx, payload):
                return payload.item

            def on_failure(self, ctx, payload, error):
                ctx.log.info("recovering item %s", payload.item)
                CALLS.append(("on_failure", ctx.job_id, ctx.attempt, payload.item, error))

            def on_dead(self, ctx, payload, error):
                CALLS.append(("on_dead", ctx.job_id, ctx.attempt, payload.item, error))

        job(name="hooked_once", max_attempts=1)(type("HookedOnce", (Recording,), {}))
        job(name="hooked_twice", max_attempts=2, backoff_base=0.1, backoff_jitter=0.0)(
            type("HookedTwice", (Recording,), {})
        )
        yield


def _lose_the_worker(job_row: Job) -> None:
    """Claim and start the job as a worker would, then let its lease run out and reclaim it."""
    (claimed,) = claim(1, CLUSTER)
    assert claimed.jobs[0][0] == str(job_row.pk)
    transitions.start_unit([Claim(claimed.jobs[0][0], claimed.jobs[0][1], CLUSTER)], worker="h:1", timeout=20)
    Job.objects.filter(pk=job_row.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert len(reclaim_lost()) == 1


def hook_jobs() -> Any:
    return Job.objects.filter(job_type__name="jobqueue_hook")


def test_a_reclaimed_last_attempt_runs_on_dead_in_a_worker(hooked_types: None) -> None:
    lost = enqueue("hooked_once", {"item": 7})
    _lose_the_worker(lost)
    assert Job.objects.get(pk=lost.pk).status == Status.DEAD
    (hook_job,) = hook_jobs()
    assert hook_job.created_by == f"job:{lost.pk}"
    assert CALLS == []  # nothing ran in the reclaiming process
    drain()
    ((hook, job_id, attempt, item, error),) = CALLS
    assert (hook, job_id, attempt, item) == ("on_dead", str(lost.pk), 1, 7)
    assert isinstance(error, WorkerLost)
    assert (error.outcome, error.attempt) == ("crashed", 1)
    assert "lease expired" in str(error)
    assert Job.objects.get(pk=hook_job.pk).result["data"] == {"hook": "on_dead", "ran": ["on_dead"]}


def test_a_reclaimed_attempt_that_will_be_retried_runs_on_failure(hooked_types: None) -> None:
    lost = enqueue("hooked_twice", {"item": 3})
    _lose_the_worker(lost)
    assert Job.objects.get(pk=lost.pk).status == Status.RETRYING
    (hook_job,) = hook_jobs()
    drain()  # the hook job (the retry is not due yet)
    assert [(c[0], c[2], c[3]) for c in CALLS] == [("on_failure", 1, 3)]
    attempt = hook_job.attempt_set.get()
    assert any("recovering item 3" in line["message"] for line in attempt.logs)


def test_a_type_without_hooks_gets_no_hook_job() -> None:
    lost = enqueue("echo", {"value": 1})
    _lose_the_worker(lost)
    assert not hook_jobs().exists()


def test_a_hook_job_for_an_attempt_the_reclaimer_did_not_close_runs_no_hook(hooked_types: None) -> None:
    finished = enqueue("hooked_once", {"item": 1})
    drain()
    assert Job.objects.get(pk=finished.pk).status == Status.SUCCEEDED
    forged = enqueue("jobqueue_hook", {"job_id": str(finished.pk), "attempt": 1})
    drain()
    assert CALLS == []
    assert Job.objects.get(pk=forged.pk).status == Status.SKIPPED


@pytest.fixture
def messy_cleanup() -> Iterator[None]:
    CALLS.clear()
    with registry.scope():

        class MessyCleanup(BaseJob):
            class Payload(pydantic.BaseModel):
                item: int

            def execute(self, ctx, payload):
                raise RuntimeError("the attempt failed")

            def cleanup(self, ctx, payload):
                raise OSError("cleanup could not remove its scratch file")

            def on_dead(self, ctx, payload, error):
                CALLS.append(("on_dead", ctx.job_id, ctx.attempt, payload.item, error))

        job(name="messy_cleanup", max_attempts=1)(MessyCleanup)
        yield


def test_a_raising_cleanup_is_logged_and_the_hook_still_runs_in_the_pipeline(messy_cleanup: None) -> None:
    failing = enqueue("messy_cleanup", {"item": 1})
    drain()
    stored = Job.objects.get(pk=failing.pk)
    assert stored.status == Status.DEAD
    assert "RuntimeError: the attempt failed" in stored.last_error  # the attempt's own error, not cleanup's
    assert [(c[0], c[1]) for c in CALLS] == [("on_dead", str(failing.pk))]
    (attempt,) = stored.attempt_set.all()
    assert any(line["message"] == "cleanup raised" for line in attempt.logs)


def test_a_raising_cleanup_is_logged_and_the_hook_still_runs_after_a_reclaim(messy_cleanup: None) -> None:
    lost = enqueue("messy_cleanup", {"item": 2})
    _lose_the_worker(lost)
    drain()
    # The same steps as the pipeline's: cleanup's error is logged, on_dead runs, the hook job succeeds.
    assert [(c[0], c[1]) for c in CALLS] == [("on_dead", str(lost.pk))]
    (hook_job,) = hook_jobs()
    hook_job.refresh_from_db()
    assert hook_job.status == Status.SUCCEEDED
    assert hook_job.result["data"] == {"hook": "on_dead", "ran": ["cleanup", "on_dead"]}
    assert any(line["message"] == "cleanup raised" for line in hook_job.attempt_set.get().logs)
