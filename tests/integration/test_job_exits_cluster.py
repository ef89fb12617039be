"""SystemExit raised by job code, sync or async, on a real qcluster: the attempt is recorded as
failed with its error at once (not left running until its lease runs out and then reported as
a lost worker), and the worker goes on to run the next job."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from jobqueue import enqueue
from jobqueue.models import Attempt, Job, Outcome, Status
from jobqueue.tasks_backend import TaskResultStatus
from tests.conftest import wait_for
from tests.djangotasks import tasks

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_system_exit_in_sync_and_async_jobs_is_the_attempts_failure(start_cluster: Callable[..., Any]) -> None:
    start_cluster(workers=1)
    began = time.monotonic()
    sync_exit = tasks.exits.enqueue(3)
    async_exit = enqueue("async_mix", {"how": "exit"})
    # Enqueued after them: it runs only if the worker survived both exits.
    after = enqueue("echo", {"value": 1})

    wait_for(
        lambda: (
            Job.objects.filter(pk__in=[sync_exit.id, async_exit.pk, after.pk], status__in=["dead", "succeeded"]).count()
            == 3
        ),
        timeout=60,
        interval=0.2,
        message="the jobs did not finish",
    )
    took = time.monotonic() - began
    for job_id in (sync_exit.id, async_exit.pk):
        found = Job.objects.get(pk=job_id)
        assert found.status == Status.DEAD
        (attempt,) = Attempt.objects.filter(job=found)
        # Failed by the job's own exit, with its traceback: not crashed, not timed out.
        assert (attempt.outcome, attempt.error_type) == (Outcome.FAILED, "SystemExit")
        assert "SystemExit" in attempt.traceback
    assert Job.objects.get(pk=after.pk).status == Status.SUCCEEDED
    assert tasks.exits.get_result(sync_exit.id).status == TaskResultStatus.FAILED
    assert tasks.exits.get_result(sync_exit.id).errors[0].exception_class is SystemExit
    assert took < 30, f"took {took:.1f} s: recorded by a reclaim, not at once?"
