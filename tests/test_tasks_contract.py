"""Django's task contract, as Django's own tests/tasks and django-tasks-db's tests state it, on the job
queue's backend: the three signals and their log lines, error classes by their importable path,
SystemExit recorded as the task's failure, TypeError for arguments JSON cannot hold, run_after,
the backend alias and the worker id read back as enqueued and as run, the backend's system check,
and the case-collision advice. (A real cluster: tests/integration/test_tasks_cluster.py.)"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import django
import pytest
from django.test import override_settings
from django.utils import timezone

import jobqueue.exceptions
from jobqueue.engine import transitions
from jobqueue.engine.pipeline import run_unit
from jobqueue.engine.reclaim import reclaim_lost
from jobqueue.engine.units import Claim
from jobqueue.models import Job
from jobqueue.tasks_backend import TaskResultStatus
from tests.conftest import ROOT
from tests.djangotasks import tasks
from tests.helpers import CLUSTER, claim, drain

if django.VERSION >= (6, 0):
    from django.tasks import task_backends
    from django.tasks.signals import task_enqueued, task_finished, task_started

    TASK_LOGGER = "django.tasks"
else:
    from django_tasks import task_backends  # type: ignore[no-redef]
    from django_tasks.signals import task_enqueued, task_finished, task_started  # type: ignore[no-redef]

    TASK_LOGGER = "django_tasks"

pytestmark = pytest.mark.django_db


@pytest.fixture
def signals() -> Iterator[list[tuple[str, Any]]]:
    """Every task signal sent in this process, as (name, task_result)."""
    sent: list[tuple[str, Any]] = []
    receivers = {}
    for name, signal in (("enqueued", task_enqueued), ("started", task_started), ("finished", task_finished)):

        def receive(sender: Any, task_result: Any, _name: str = name, **kwargs: Any) -> None:
            sent.append((_name, task_result))

        receivers[name] = receive
        signal.connect(receive)
    yield sent
    task_enqueued.disconnect(receivers["enqueued"])
    task_started.disconnect(receivers["started"])
    task_finished.disconnect(receivers["finished"])


def test_enqueue_start_and_finish_send_djangos_signals_and_log_lines(
    signals: list[tuple[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=TASK_LOGGER)
    result = tasks.add.enqueue(2, 3)
    assert [(name, r.id, r.status) for name, r in signals] == [("enqueued", result.id, TaskResultStatus.READY)]
    assert signals[0][1].backend == "default"

    drain()
    assert [(name, r.status) for name, r in signals[1:]] == [
        ("started", TaskResultStatus.RUNNING),
        ("finished", TaskResultStatus.SUCCESSFUL),
    ]
    assert signals[2][1].return_value == 5
    path = "tests.djangotasks.tasks.add"
    assert f"Task id={result.id} path={path} enqueued backend=default" in caplog.text
    assert f"Task id={result.id} path={path} state=RUNNING" in caplog.text
    assert f"Task id={result.id} path={path} state=SUCCESSFUL" in caplog.text


def test_a_failing_task_finishes_failed_with_its_error(
    signals: list[tuple[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    result = tasks.fail.enqueue("no good")
    drain()
    name, finished = signals[-1]
    assert (name, finished.status) == ("finished", TaskResultStatus.FAILED)
    assert finished.errors[-1].exception_class is ValueError
    assert f"Task id={result.id} path=tests.djangotasks.tasks.fail state=FAILED" in caplog.text


@pytest.mark.parametrize(
    ("task", "args", "error"), [("exits", (3,), SystemExit), ("interrupted", (), KeyboardInterrupt)]
)
def test_system_exit_and_interrupts_are_the_tasks_failure_at_once(
    task: str, args: tuple[Any, ...], error: type
) -> None:
    result = getattr(tasks, task).enqueue(*args)
    drain()
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is error


def test_a_worker_lost_under_a_task_is_recorded_as_the_engines_own_class() -> None:
    result = tasks.add.enqueue(1, 1)
    (unit,) = claim(1, CLUSTER)
    transitions.start_unit([Claim(unit.jobs[0][0], 1, CLUSTER)], worker="h:1", timeout=20)
    Job.objects.filter(pk=result.id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert len(reclaim_lost()) == 1
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class_path == "jobqueue.exceptions.WorkerLost"
    assert result.errors[0].exception_class is jobqueue.exceptions.WorkerLost
    assert issubclass(jobqueue.exceptions.WorkerTimedOut, jobqueue.exceptions.WorkerLost)


def test_arguments_json_cannot_hold_are_a_type_error_and_nothing_is_written() -> None:
    with pytest.raises(TypeError):
        tasks.add.enqueue(object(), 1)
    with pytest.raises(TypeError):
        tasks.add.enqueue(1, b={1, 2})
    assert not Job.objects.exists()


def test_run_after_is_read_back_as_enqueued() -> None:
    later = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    deferred = tasks.add.using(run_after=later).enqueue(1, 2)
    assert deferred.task.run_after == later
    assert tasks.add.get_result(deferred.id).task.run_after == later
    plain = tasks.add.enqueue(1, 2)
    assert tasks.add.get_result(plain.id).task.run_after is None


def test_a_result_read_through_another_alias_names_that_alias() -> None:
    backend = {"BACKEND": "jobqueue.tasks_backend.JobQueueBackend"}
    with override_settings(TASKS={"default": backend, "second": backend}):
        result = tasks.add.using(backend="second").enqueue(4, 4)
        assert (result.backend, result.task.backend) == ("second", "second")
        again = task_backends["second"].get_result(result.id)
        assert (again.backend, again.task.backend) == ("second", "second")


def test_the_worker_id_is_the_same_while_running_and_after() -> None:
    result = tasks.add.enqueue(5, 5)
    (unit,) = claim(1, CLUSTER)
    running = tasks.add.get_result(result.id)
    assert running.worker_ids == [CLUSTER]
    run_unit(unit)
    assert tasks.add.get_result(result.id).worker_ids == [CLUSTER]


def manage_check(settings_module: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_backend_checks_that_the_queues_apps_are_installed() -> None:
    result = manage_check("tests.settings_tasks_without_jobqueue")
    assert result.returncode != 0
    assert "jobqueue.E040" in result.stderr
    assert "Add 'jobqueue', 'jobqueue.djangoq' and 'django_q'" in result.stderr


def test_tasks_whose_names_differ_only_in_case_are_refused_with_advice_for_tasks() -> None:
    result = manage_check("tests.settings_task_collision")
    assert result.returncode != 0
    assert "tests.taskcollision.tasks.Notify and tests.taskcollision.tasks.notify" in result.stderr
    assert "rename one of the two functions" in result.stderr
    assert "@job(name=" not in result.stderr
