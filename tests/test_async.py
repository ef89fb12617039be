"""Async job types: many jobs of one unit at once on a worker's event loop, each on its own."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from jobqueue import enqueue, enqueue_many, job
from jobqueue.exceptions import ConfigurationError
from jobqueue.models import Attempt, Job, Outcome, Status
from jobqueue.registry import registry
from jobqueue.services import cancel
from tests.helpers import CLUSTER, claim, drain


@pytest.mark.django_db
def test_a_unit_of_async_jobs_runs_them_at_once() -> None:
    jobs = enqueue_many([{"type": "wait_async", "payload": {"seconds": 0.3}}] * 20)
    (unit,) = claim(1, CLUSTER)
    assert len(unit.jobs) == 20  # one unit holds up to ASYNC_CONCURRENCY jobs
    started = time.monotonic()
    assert drain() == []  # already claimed: nothing else ready
    from jobqueue.engine.pipeline import run_unit

    run_unit(unit)
    elapsed = time.monotonic() - started
    assert elapsed < 20 * 0.3 / 2  # sequential would take 6 s
    assert set(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)) == {Status.SUCCEEDED}
    assert Attempt.objects.filter(outcome=Outcome.SUCCEEDED).count() == 20


@pytest.mark.django_db(transaction=True)
def test_each_async_job_has_its_own_timeout_cancel_failure_and_hooks(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger")
    hows = ["ok", "raise", "hang", "cancel", "ok", "ok"]
    jobs = {how + str(i): enqueue("async_mix", {"how": how, "ledger": ledger}) for i, how in enumerate(hows)}
    to_cancel = jobs["cancel3"]

    def cancel_soon() -> None:
        try:
            cancel(Job.objects.get(pk=to_cancel.pk), by=None, reason="test")
        finally:
            connection.close()  # this thread's own connection: the test database is dropped at the end

    timer = threading.Timer(0.3, cancel_soon)
    timer.start()
    try:
        statuses = drain()
    finally:
        timer.join()
    assert sorted(statuses) == sorted(["succeeded", "dead", "dead", "cancelled", "succeeded", "succeeded"])
    stored = {key: Job.objects.get(pk=j.pk) for key, j in jobs.items()}
    assert stored["raise1"].status == Status.DEAD
    assert "told to fail" in stored["raise1"].last_error
    hang = Attempt.objects.get(job=stored["hang2"])
    assert (hang.outcome, hang.error_type) == (Outcome.TIMED_OUT, "TimeoutError")
    assert 900 <= hang.duration_ms <= 3000  # its own 1 s timeout, not the unit's
    assert stored["cancel3"].status == Status.CANCELLED
    assert stored["cancel3"].result["message"] == "stopped on request"
    assert {stored[k].status for k in ("ok0", "ok4", "ok5")} == {Status.SUCCEEDED}
    lines = Path(ledger).read_text().splitlines()
    # on_dead ran once for each dead job, after its decision was recorded; cleanup for all six.
    assert sorted(line.split()[0:2] for line in lines if line.startswith("on_dead")) == sorted(
        [["on_dead", str(stored["raise1"].pk)], ["on_dead", str(stored["hang2"].pk)]]
    )
    assert sum(1 for line in lines if line.startswith("cleanup")) == 6


def test_job_refuses_a_generator_function() -> None:
    with registry.scope(), pytest.raises(ConfigurationError, match="not yield"):

        @job(name="yields")
        async def yields() -> None:  # pragma: no cover - refused at declaration
            yield None


@pytest.mark.django_db
def test_a_types_async_concurrency_sizes_its_units(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobqueue.config.effective import clear_cache
    from jobqueue.models import JobType
    from jobqueue.services.types import update_job_type

    enqueue_many([{"type": "wait_async", "payload": {"seconds": 0}}] * 12)
    update_job_type(JobType.objects.get(name="wait_async"), {"async_concurrency": "5"})
    assert [len(unit.jobs) for unit in claim(3, CLUSTER)] == [5, 5, 2]
    # An environment pin wins over the record, as for every option.
    Job.objects.all().delete()
    enqueue_many([{"type": "wait_async", "payload": {"seconds": 0}}] * 12)
    monkeypatch.setenv("JOBQUEUE_WAIT_ASYNC_ASYNC_CONCURRENCY", "4")
    clear_cache()
    assert [len(unit.jobs) for unit in claim(3, CLUSTER)] == [4, 4, 4]
    # Cleared, the ASYNC_CONCURRENCY setting (50) applies again.
    Job.objects.all().delete()
    enqueue_many([{"type": "wait_async", "payload": {"seconds": 0}}] * 12)
    monkeypatch.delenv("JOBQUEUE_WAIT_ASYNC_ASYNC_CONCURRENCY")
    update_job_type(JobType.objects.get(name="wait_async"), {"async_concurrency": None})
    assert [len(unit.jobs) for unit in claim(3, CLUSTER)] == [12]


def test_async_concurrency_is_refused_on_a_sync_type() -> None:
    with registry.scope(), pytest.raises(ConfigurationError, match="only to async job types"):

        @job(name="sync_with_async_concurrency", async_concurrency=10)
        def sync_with_async_concurrency() -> None:  # pragma: no cover - refused at declaration
            return None
