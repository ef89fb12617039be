"""Two tasks that would be one job type: `Notify` and `notify` are both `..._notify`."""

from __future__ import annotations

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the django-tasks package
    from django_tasks import task  # type: ignore[no-redef]


@task
def Notify() -> None:
    """Upper case."""


@task
def notify() -> None:
    """Lower case."""
