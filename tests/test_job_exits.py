"""SystemExit and KeyboardInterrupt raised by job code fail the attempt at once, for every kind of
job type; only when the cluster is stopping do they stop the worker (the attempt is then reclaimed)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from jobqueue import BaseJob, JobContext, enqueue, job
from jobqueue.engine import shutdown
from jobqueue.engine.pipeline import run_unit
from jobqueue.models import Attempt, Job, Outcome, Status
from jobqueue.registry import registry
from tests.helpers import CLUSTER, claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def exiting_types() -> Iterator[None]:
    with registry.scope():

        @job(name="exits_function", max_attempts=1)
        def exits_function() -> None:
            raise SystemExit(3)

        @job(name="interrupted_function", max_attempts=2, backoff_base=0.1, backoff_jitter=0.0)
        def interrupted_function() -> None:
            raise KeyboardInterrupt

        @job(name="exits_class", max_attempts=1)
        class ExitsClass(BaseJob):
            def execute(self, ctx: JobContext, payload: object) -> None:
                raise SystemExit("bye")

        @job(name="stopped_while_running", max_attempts=1)
        def stopped_while_running() -> None:
            shutdown.request()  # as the cluster's SIGTERM handler does
            raise SystemExit(0)

        @job(name="exits_async", max_attempts=1)
        async def exits_async() -> None:
            await asyncio.sleep(0)
            raise SystemExit(2)

        @job(name="exits_async_class", max_attempts=1)
        class ExitsAsyncClass(BaseJob):
            async def execute(self, ctx: JobContext, payload: object) -> None:
                raise SystemExit("bye")

        @job(name="interrupted_async", max_attempts=2, backoff_base=0.1, backoff_jitter=0.0)
        async def interrupted_async() -> None:
            raise KeyboardInterrupt

        @job(name="exits_batch", batch_size=5, max_attempts=1)
        class ExitsBatch(BaseJob):
            def execute_batch(self, ctx: JobContext, payloads: list[object]) -> list[object]:
                raise SystemExit(1)

        yield


def run(type_name: str) -> Job:
    enqueue(type_name, {})
    (unit,) = claim(1, CLUSTER)
    run_unit(unit)
    return Job.objects.get(pk=unit.jobs[0][0])


@pytest.mark.usefixtures("exiting_types")
@pytest.mark.parametrize(
    ("type_name", "error_type"),
    [
        ("exits_function", "SystemExit"),
        ("exits_class", "SystemExit"),
        ("exits_batch", "SystemExit"),
        ("exits_async", "SystemExit"),
        ("exits_async_class", "SystemExit"),
    ],
)
def test_system_exit_from_job_code_is_the_attempts_failure(type_name: str, error_type: str) -> None:
    found = run(type_name)
    assert found.status == Status.DEAD
    (attempt,) = Attempt.objects.filter(job=found)
    assert (attempt.outcome, attempt.error_type) == (Outcome.FAILED, error_type)
    assert "SystemExit" in attempt.traceback


@pytest.mark.usefixtures("exiting_types")
@pytest.mark.parametrize("type_name", ["interrupted_function", "interrupted_async"])
def test_keyboard_interrupt_from_job_code_is_a_failure_that_retries(type_name: str) -> None:
    found = run(type_name)
    assert found.status == Status.RETRYING
    assert Attempt.objects.get(job=found).error_type == "KeyboardInterrupt"


@pytest.mark.usefixtures("exiting_types")
def test_when_the_cluster_stops_the_attempt_is_left_to_the_reclaimer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutdown, "_flag", None)
    shutdown.install()
    found = run("stopped_while_running")
    assert found.status == Status.RUNNING
    assert not Attempt.objects.filter(job=found).exists()
