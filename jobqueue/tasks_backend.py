"""A backend for Django's task framework: `django.tasks` on Django 6, the `django-tasks` package on 5.2.

With `TASKS = {"default": {"BACKEND": "jobqueue.tasks_backend.JobQueueBackend"}}` every `@task`
declared in an installed app's `tasks` module (imported at start-up, like `jobs` modules) becomes a
job type of its own, named after its module path, which operators configure like any other. Its
jobs carry `{"args": [...], "kwargs": {...}}`; a worker calls the function registered in its own
process under the job type's name, never a path read from the database. Only tasks declared while
the apps load are registered: enqueueing any other task is refused.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import inspect
import re
import traceback
from typing import TYPE_CHECKING, Any

import django
import pydantic
from asgiref.sync import sync_to_async
from django.apps import apps
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import timezone

from jobqueue import exceptions as jobqueue_exceptions
from jobqueue.base import BaseJob
from jobqueue.exceptions import PayloadValidationError, UnknownJobTypeError
from jobqueue.registry import NAME_RE, job

# Type-checked against Django 6's API (django-stubs); django-tasks mirrors it.
if TYPE_CHECKING or django.VERSION >= (6, 0):
    from django.tasks import DEFAULT_TASK_QUEUE_NAME, TaskContext, TaskResult, TaskResultStatus
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import Task, TaskError
    from django.tasks.exceptions import InvalidTask as InvalidTaskError
    from django.tasks.exceptions import TaskResultDoesNotExist
    from django.tasks.signals import task_enqueued, task_finished, task_started
    from django.utils.json import normalize_json
else:
    from django_tasks import DEFAULT_TASK_QUEUE_NAME, TaskContext, TaskResult, TaskResultStatus
    from django_tasks import exceptions as _task_exceptions
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import Task, TaskError
    from django_tasks.exceptions import TaskResultDoesNotExist
    from django_tasks.signals import task_enqueued, task_finished, task_started
    from django_tasks.utils import normalize_json

    # django-tasks renames InvalidTaskError to InvalidTask (Django's name) without an alias.
    InvalidTaskError = getattr(_task_exceptions, "InvalidTask", None) or _task_exceptions.InvalidTaskError

# The apps a task backend on the job queue needs (its check names the missing ones).
REQUIRED_APPS = ("jobqueue", "jobqueue.djangoq", "django_q")

# Job type name -> the Task declared under it, in this process.
_TASKS: dict[str, Task[Any, Any]] = {}

_STATUS = {
    "queued": TaskResultStatus.READY,
    "scheduled": TaskResultStatus.READY,
    "retrying": TaskResultStatus.READY,
    "running": TaskResultStatus.RUNNING,
    "succeeded": TaskResultStatus.SUCCESSFUL,
    # Django's results have no "skipped" or "cancelled": the function did not complete.
    "dead": TaskResultStatus.FAILED,
    "cancelled": TaskResultStatus.FAILED,
    "skipped": TaskResultStatus.FAILED,
}


class TaskPayload(pydantic.BaseModel):
    """A task job's payload: the call's arguments, JSON as Django's backends require."""

    model_config = pydantic.ConfigDict(extra="forbid")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}


def job_type_name(task: Task[Any, Any]) -> str:
    """The job type of a task: its module path in job type spelling (hashed when too long)."""
    name = re.sub(r"[^a-z0-9]+", "_", task.module_path.lower()).strip("_")
    if not name[:1].isalpha():
        name = f"task_{name}"
    if not NAME_RE.match(name):
        digest = hashlib.sha256(task.module_path.encode()).hexdigest()[:8]
        name = f"{name[:54]}_{digest}"
    return name


def registered_task(name: str) -> Task[Any, Any] | None:
    return _TASKS.get(name)


def _register(task: Task[Any, Any]) -> None:
    """Declare the task's job type (at start-up only; `.using()` copies add nothing)."""
    name = job_type_name(task)
    known = _TASKS.get(name)
    if (known is not None and known.func is task.func) or apps.ready:
        return
    if known is not None and known.module_path != task.module_path:
        raise InvalidTaskError(
            f"tasks {known.module_path} and {task.module_path} would be the same job type {name!r} (job type "
            "names are lowercase letters, digits and underscores): rename one of the two functions."
        )

    def execute(self: BaseJob, ctx: Any, payload: TaskPayload) -> Any:
        return run_task(name, ctx.job_id, payload)

    async def aexecute(self: BaseJob, ctx: Any, payload: TaskPayload) -> Any:
        return await arun_task(name, ctx.job_id, payload)

    # An async task becomes an async job type: many of its jobs run at once on a worker's loop.
    method = aexecute if inspect.iscoroutinefunction(task.func) else execute
    job_class = type(
        f"{task.func.__name__}_task",
        (BaseJob,),
        {"Payload": TaskPayload, "execute": method, "__module__": task.func.__module__, "__doc__": task.func.__doc__},
    )
    description = (task.func.__doc__ or "").strip().split("\n")[0] or f"Django task {task.module_path}"
    # Django's tasks run once: a failure is final unless an operator raises max_attempts.
    job(name=name, priority=task.priority, max_attempts=1, description=description)(job_class)
    _TASKS[name] = task


def _started(task: Task[Any, Any], job_id: Any) -> TaskResult[Any, Any]:
    """The running task's result, announced with Django's `task_started` (and its log line)."""
    backend = task.get_backend()
    result = backend.get_result(str(job_id))
    task_started.send(sender=type(backend), task_result=result)
    return result


def _finished(result: TaskResult[Any, Any], value: Any = None, error: BaseException | None = None) -> None:
    """Django's `task_finished` for this attempt, with its status: SUCCESSFUL with the return value,
    or FAILED with the error (sent inside the `except`, so Django's log line carries the traceback)."""
    if error is None:
        done = dataclasses.replace(result, status=TaskResultStatus.SUCCESSFUL, finished_at=timezone.now())
        object.__setattr__(done, "_return_value", value)
    else:
        failure = TaskError(
            exception_class_path=_class_path(f"{type(error).__module__}.{type(error).__qualname__}"),
            traceback="".join(traceback.format_exception(error)),
        )
        done = dataclasses.replace(
            result, status=TaskResultStatus.FAILED, finished_at=timezone.now(), errors=[*result.errors, failure]
        )
    task_finished.send(sender=type(result.task.get_backend()), task_result=done)


def run_task(name: str, job_id: Any, payload: TaskPayload) -> Any:
    """Call the task registered under `name` (in a worker); its return value must be JSON."""
    task = _TASKS[name]
    result = _started(task, job_id)
    try:
        if task.takes_context:
            value = task.call(TaskContext(task_result=result), *payload.args, **payload.kwargs)
        else:
            value = task.call(*payload.args, **payload.kwargs)
        value = normalize_json(value)
    except BaseException as exc:
        _finished(result, error=exc)
        raise
    _finished(result, value)
    return value


async def arun_task(name: str, job_id: Any, payload: TaskPayload) -> Any:
    """`run_task` for an async task, awaited on the worker's event loop."""
    task = _TASKS[name]
    result = await sync_to_async(_started)(task, job_id)
    try:
        if task.takes_context:
            value = await task.acall(TaskContext(task_result=result), *payload.args, **payload.kwargs)
        else:
            value = await task.acall(*payload.args, **payload.kwargs)
        value = normalize_json(value)
    except BaseException as exc:
        await sync_to_async(_finished)(result, error=exc)
        raise
    await sync_to_async(_finished)(result, value)
    return value


def _class_path(error_type: str) -> str:
    """The importable dotted path of a recorded error class: attempts store builtins and the
    engine's own errors (WorkerLost, WorkerTimedOut) by their bare name."""
    if "." in error_type:
        return error_type
    if isinstance(getattr(jobqueue_exceptions, error_type, None), type):
        return f"jobqueue.exceptions.{error_type}"
    if isinstance(getattr(builtins, error_type, None), type):
        return f"builtins.{error_type}"
    return error_type


class JobQueueBackend(BaseTaskBackend):
    """Runs Django's tasks on the job queue: priority, run_after and results from its Job rows."""

    supports_defer = True
    supports_priority = True
    supports_get_result = True
    # An async task runs as an async job type (up to ASYNC_CONCURRENCY at once per worker).
    supports_async_task = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        if self.queues != {DEFAULT_TASK_QUEUE_NAME}:
            raise ImproperlyConfigured(
                f"TASKS[{alias!r}]['QUEUES'] = {sorted(self.queues)}: the job queue has no named queues "
                f"(only {DEFAULT_TASK_QUEUE_NAME!r}); each task is a job type whose priority, concurrency "
                "and rate limit are set in the admin. Remove QUEUES."
            )

    def validate_task(self, task: Task[Any, Any]) -> None:
        if task.queue_name != DEFAULT_TASK_QUEUE_NAME:
            raise InvalidTaskError(
                f"queue_name {task.queue_name!r}: the job queue has no named queues; each task is a job type "
                "of its own, whose priority, concurrency and rate limit are set in the admin. "
                f"Leave queue_name at {DEFAULT_TASK_QUEUE_NAME!r}."
            )
        super().validate_task(task)
        _register(task)

    def enqueue(self, task: Task[Any, Any], args: Any, kwargs: Any) -> TaskResult[Any, Any]:
        from jobqueue.services import enqueue

        self.validate_task(task)
        name = job_type_name(task)
        known = _TASKS.get(name)
        if known is None or known.func is not task.func:
            raise InvalidTaskError(
                f"task {task.module_path} was not registered at start-up: declare it at module level in the "
                "`tasks` module of an installed app."
            )
        try:
            payload = {"args": normalize_json(list(args)), "kwargs": normalize_json(dict(kwargs))}
            # The declared priority is the job type's default, which operators may change in the admin;
            # only a priority given with .using() overrides it.
            priority = None if task.priority == known.priority else task.priority
            new = enqueue(name, payload, priority=priority, run_after=task.run_after)
        except (TypeError, ValueError, PayloadValidationError) as exc:
            # TypeError, as Django's own backends raise for arguments JSON cannot hold.
            raise TypeError(f"task {task.module_path}: arguments must be JSON values: {exc}") from exc
        except UnknownJobTypeError as exc:
            raise InvalidTaskError(f"task {task.module_path}: {exc}") from exc
        result = self._result(new, task)
        task_enqueued.send(sender=type(self), task_result=result)
        return result

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        """The apps this backend runs on; without them tasks would never be registered or run."""
        missing = [name for name in REQUIRED_APPS if not apps.is_installed(name)]
        if not missing:
            return []
        return [
            checks.Error(
                f"TASKS[{self.alias!r}] runs on the job queue, but {', '.join(repr(m) for m in missing)} "
                "not in INSTALLED_APPS",
                hint="Add 'jobqueue', 'jobqueue.djangoq' and 'django_q' (in that order) to INSTALLED_APPS "
                "(docs/install.md).",
                id="jobqueue.E040",
            )
        ]

    def get_result(self, result_id: str) -> TaskResult[Any, Any]:
        from jobqueue.models import Job

        try:
            found = Job.objects.select_related("job_type").get(pk=result_id)
        except (Job.DoesNotExist, ValidationError, ValueError):
            raise TaskResultDoesNotExist(result_id) from None
        task = _TASKS.get(found.job_type.name)
        if task is None:
            raise TaskResultDoesNotExist(result_id)
        return self._result(found, task)

    def _result(self, found: Any, task: Task[Any, Any]) -> TaskResult[Any, Any]:
        attempts = list(found.attempt_set.order_by("number")) if found.attempts else []
        by_number = {a.number: a for a in attempts}
        # The claim's id (cluster and worker), the same while the attempt runs and once it is recorded.
        worker_ids = [
            (a.cluster or f"{a.host}:{a.pid}") if (a := by_number.get(n)) else found.claimed_by
            for n in range(1, found.attempts + 1)
        ]
        errors = [
            TaskError(exception_class_path=_class_path(a.error_type), traceback=a.traceback or a.error_message)
            for a in attempts
            if a.error_type
        ]
        status = _STATUS[found.status]
        # run_after as enqueued: a job that was not deferred runs after its creation time.
        deferred = found.run_after if found.run_after and found.run_after > found.created_at else None
        result: TaskResult[Any, Any] = TaskResult(
            task=task.using(priority=found.priority, run_after=deferred, backend=self.alias),
            id=str(found.pk),
            status=status,
            enqueued_at=found.created_at,
            started_at=found.started_at,
            finished_at=found.finished_at,
            last_attempted_at=found.started_at,
            args=list(found.payload.get("args", [])),
            kwargs=dict(found.payload.get("kwargs", {})),
            backend=self.alias,
            errors=errors,
            worker_ids=worker_ids,
        )
        if status == TaskResultStatus.SUCCESSFUL and isinstance(found.result, dict):
            object.__setattr__(result, "_return_value", found.result.get("data"))
        return result
