"""Django's task API on a real qcluster: a test app that knows only `@task` enqueues, a cluster runs
its tasks in priority order and after their run_after, and the results are read with get_result."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from jobqueue.tasks_backend import TaskResultStatus
from tests.conftest import wait_for
from tests.djangotasks import tasks

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_tasks_run_on_a_cluster_by_priority_and_run_after(start_cluster: Callable[..., Any]) -> None:
    deferred_until = timezone.now() + timedelta(seconds=3)
    deferred = tasks.record.using(priority=100, run_after=deferred_until).enqueue("deferred")
    low = tasks.record.using(priority=-50).enqueue("low", pause=0.2)
    high = tasks.record.using(priority=50).enqueue("high", pause=0.2)
    total = tasks.add.enqueue(20, 22)
    failing = tasks.fail.enqueue("on purpose")

    cluster = start_cluster(workers=1)

    def finished() -> bool:
        return all(tasks.record.get_result(r.id).is_finished for r in (deferred, low, high))

    wait_for(finished, timeout=60, interval=0.2, message="the tasks did not finish")
    results = {r.id: tasks.record.get_result(r.id) for r in (deferred, low, high)}
    assert all(r.status == TaskResultStatus.SUCCESSFUL for r in results.values())
    ran_at = {r.return_value["label"]: r.return_value["at"] for r in results.values()}
    assert ran_at["high"] < ran_at["low"]
    assert ran_at["deferred"] >= deferred_until.timestamp()  # priority 100, yet after its run_after
    assert results[deferred.id].started_at >= deferred_until

    assert wait_for(lambda: tasks.add.get_result(total.id).is_finished, timeout=30)
    assert tasks.add.get_result(total.id).return_value == 42
    assert wait_for(lambda: tasks.fail.get_result(failing.id).is_finished, timeout=30)
    failed = tasks.fail.get_result(failing.id)
    assert failed.status == TaskResultStatus.FAILED
    assert failed.errors[0].exception_class is ValueError
    assert len(failed.worker_ids) == 1
    assert failed.worker_ids[0]

    # Read back in this process as enqueued and as run in the cluster's.
    assert results[deferred.id].task.run_after == deferred_until
    assert results[low.id].task.run_after is None
    assert all(r.worker_ids and r.worker_ids[0] for r in results.values())
    # Django's task_started / task_finished, sent in the worker, with Django's own log lines.
    log = cluster.output()
    for result, state in ((total, "SUCCESSFUL"), (failing, "FAILED")):
        path = result.task.module_path
        assert f"Task id={result.id} path={path} state=RUNNING" in log, log
        assert f"Task id={result.id} path={path} state={state}" in log, log
