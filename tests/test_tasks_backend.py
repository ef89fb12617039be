"""jobqueue.tasks_backend against the behaviours Django documents for task backends: enqueue, results,
errors, priority, run_after, queue names, context; the jobs run in-process here, and by a real
qcluster in tests/integration/test_tasks_cluster.py."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from jobqueue import enqueue
from jobqueue.models import Job, JobType, Status
from jobqueue.tasks_backend import (
    InvalidTaskError,
    JobQueueBackend,
    Task,
    TaskResultDoesNotExist,
    TaskResultStatus,
    job_type_name,
)
from tests.djangotasks import tasks
from tests.helpers import drain

try:
    from django.tasks import task, task_backends
    from django.tasks.exceptions import TaskResultMismatch
except ImportError:  # Django 5.2
    from django_tasks import task, task_backends  # type: ignore[no-redef]
    from django_tasks.exceptions import TaskResultMismatch  # type: ignore[no-redef]

pytestmark = pytest.mark.django_db


def test_the_backend_declares_what_it_supports() -> None:
    backend = task_backends["default"]
    assert isinstance(backend, JobQueueBackend)
    assert (backend.supports_defer, backend.supports_priority, backend.supports_get_result) == (True, True, True)
    assert backend.supports_async_task is True


def test_each_task_is_a_job_type_record() -> None:
    name = job_type_name(tasks.add)
    assert name == "tests_djangotasks_tasks_add"
    record = JobType.objects.get(name=name)
    assert record.description == "Add two numbers."


def test_enqueue_returns_a_ready_result_then_get_result_sees_it_run() -> None:
    result = tasks.add.enqueue(2, b=3)

    assert result.status == TaskResultStatus.READY
    assert (result.args, result.kwargs, result.backend) == ([2], {"b": 3}, "default")
    assert result.enqueued_at is not None
    assert result.started_at is result.finished_at is None
    assert not result.is_finished
    with pytest.raises(ValueError, match="not finished"):
        _ = result.return_value

    assert drain() == ["succeeded"]
    result.refresh()

    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5
    assert result.is_finished
    assert result.started_at is not None
    assert result.finished_at is not None
    assert result.finished_at >= result.started_at >= result.enqueued_at
    assert result.attempts == len(result.worker_ids) == 1
    assert result.errors == []
    again = tasks.add.get_result(result.id)
    assert (again.id, again.status, again.return_value) == (result.id, TaskResultStatus.SUCCESSFUL, 5)


def test_a_raising_task_fails_once_with_its_error() -> None:
    result = tasks.fail.enqueue("no good")
    drain()
    result.refresh()

    assert result.status == TaskResultStatus.FAILED
    (error,) = result.errors
    assert error.exception_class is ValueError
    assert "no good" in error.traceback
    with pytest.raises(ValueError, match="failed"):
        _ = result.return_value
    assert Job.objects.get(pk=result.id).status == Status.DEAD  # no retries unless an operator sets them


def test_get_result_of_unknown_malformed_or_foreign_ids_does_not_exist() -> None:
    backend = task_backends["default"]
    for result_id in ("0190c7a2-0000-7000-8000-000000000000", "not-a-uuid", ""):
        with pytest.raises(TaskResultDoesNotExist):
            backend.get_result(result_id)
    plain = enqueue("echo", {"value": 1})  # a job of a job type that is not a task
    with pytest.raises(TaskResultDoesNotExist):
        backend.get_result(str(plain.pk))


def test_a_task_refuses_the_result_of_another() -> None:
    result = tasks.add.enqueue(1, 1)
    with pytest.raises(TaskResultMismatch):
        tasks.fail.get_result(result.id)


def test_priority_maps_to_the_job_priority_and_is_validated() -> None:
    assert Job.objects.get(pk=tasks.record.enqueue("declared").id).priority == 10
    assert Job.objects.get(pk=tasks.add.using(priority=-100).enqueue(1, 2).id).priority == -100
    assert Job.objects.get(pk=tasks.add.using(priority=100).enqueue(1, 2).id).priority == 100
    for bad in (101, -101):
        with pytest.raises(InvalidTaskError, match="priority"):
            tasks.add.using(priority=bad)


def test_an_operator_sets_the_priority_of_a_task_like_any_job_type() -> None:
    from jobqueue.services.types import update_job_type

    update_job_type(JobType.objects.get(name=job_type_name(tasks.record)), {"priority": 70})

    assert Job.objects.get(pk=tasks.record.enqueue("configured").id).priority == 70
    assert Job.objects.get(pk=tasks.record.using(priority=-5).enqueue("explicit").id).priority == -5


def test_higher_priority_runs_first() -> None:
    low = tasks.record.using(priority=-20).enqueue("low")
    high = tasks.record.using(priority=90).enqueue("high")
    drain(batch=1)
    assert tasks.record.get_result(high.id).return_value["at"] < tasks.record.get_result(low.id).return_value["at"]


def test_run_after_defers_the_job() -> None:
    later = timezone.now() + timedelta(hours=1)
    result = tasks.add.using(run_after=later).enqueue(1, 2)

    assert drain() == []
    job = Job.objects.get(pk=result.id)
    assert job.run_after == later
    assert tasks.add.get_result(result.id).status == TaskResultStatus.READY

    Job.objects.filter(pk=result.id).update(run_after=timezone.now() - timedelta(seconds=1))
    assert drain() == ["succeeded"]


def test_run_after_must_be_aware() -> None:
    with pytest.raises(InvalidTaskError, match="aware"):
        tasks.add.using(run_after=datetime(2030, 1, 1))


def test_named_queues_are_refused_with_the_reason() -> None:
    with pytest.raises(InvalidTaskError, match="no named queues"):
        tasks.add.using(queue_name="emails")
    with pytest.raises(ImproperlyConfigured, match="Remove QUEUES"):
        JobQueueBackend("other", {"QUEUES": ["default", "emails"]})


def test_takes_context_gets_its_own_result() -> None:
    result = tasks.whoami.enqueue(tag="ctx")
    drain()
    value = tasks.whoami.get_result(result.id).return_value
    assert value == {"tag": "ctx", "id": result.id, "attempt": 1}


def test_arguments_must_be_json() -> None:
    with pytest.raises((InvalidTaskError, TypeError)):
        tasks.add.enqueue(object(), 1)
    assert not Job.objects.filter(job_type__name=job_type_name(tasks.add)).exists()


def late(x: int) -> int:
    return x


def test_a_task_declared_after_start_up_is_refused_at_enqueue() -> None:
    declared_late: Task = task(late)  # type: ignore[type-arg]
    with pytest.raises(InvalidTaskError, match="not registered at start-up"):
        declared_late.enqueue(1)
    assert job_type_name(declared_late) not in set(JobType.objects.values_list("name", flat=True))


def test_async_tasks_run_as_an_async_job_type() -> None:
    results = [tasks.wait_and_echo.enqueue(f"t{i}") for i in range(5)]
    assert JobType.objects.filter(name=job_type_name(tasks.wait_and_echo)).exists()
    assert drain() == ["succeeded"] * 5
    assert [tasks.wait_and_echo.get_result(r.id).return_value for r in results] == [f"t{i}" for i in range(5)]
    ctx = tasks.whoami_async.enqueue(tag="async")
    drain()
    assert tasks.whoami_async.get_result(ctx.id).return_value == {"tag": "async", "id": ctx.id}
