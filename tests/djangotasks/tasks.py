"""Tasks written against Django's own API only: `django.tasks` on Django 6, `django_tasks` on 5.2."""

from __future__ import annotations

import asyncio
import time

try:
    from django.tasks import TaskContext, task
except ImportError:  # Django 5.2: the django-tasks package
    from django_tasks import TaskContext, task  # type: ignore[no-redef]


@task
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@task(priority=10)
def record(label: str, pause: float = 0.0) -> dict[str, float | str]:
    """Return the label and the time the call ran, to observe the order of execution."""
    time.sleep(pause)
    return {"label": label, "at": time.time()}


@task
def fail(message: str) -> None:
    raise ValueError(message)


@task(takes_context=True)
def whoami(context: TaskContext, tag: str) -> dict[str, object]:
    return {"tag": tag, "id": context.task_result.id, "attempt": context.attempt}


@task
async def wait_and_echo(text: str, seconds: float = 0.05) -> str:
    """An async task: awaited on a worker's event loop, many at once."""
    await asyncio.sleep(seconds)
    return text


@task(takes_context=True)
async def whoami_async(context: TaskContext, tag: str) -> dict[str, object]:
    return {"tag": tag, "id": context.task_result.id}


@task
def exits(code: int) -> None:
    """Leave the way a script does (sys.exit)."""
    raise SystemExit(code)


@task
def interrupted() -> None:
    raise KeyboardInterrupt
