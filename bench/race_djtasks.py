"""django-tasks-db (the database backend of Django's task API) in the race: result rows kept.

Its worker (`db_worker`) runs one task at a time per process; async task functions are run
to completion in turn, so its "100 in flight" case does not exist.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import django
from django.conf import settings

if not settings.configured:
    _url = urlsplit(os.environ["RACE_DSN"])
    settings.configure(
        INSTALLED_APPS=["django_tasks", "django_tasks_db"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": _url.path.lstrip("/"),
                "USER": _url.username or "",
                "PASSWORD": _url.password or "",
                "HOST": _url.hostname or "",
                "PORT": _url.port or "",
            }
        },
        TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
        USE_TZ=True,
    )
    django.setup()

from django_tasks import task

from bench import race_peer


@task()
async def race() -> None:
    await race_peer.body(os.environ["RACE_KIND"], os.environ["RACE_ARG"])


def enqueue(dsn: str, jobs: int, kind: str, arg: Any) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for _ in range(jobs):
        race.enqueue()


def work(dsn: str, kind: str, arg: Any, concurrency: int | None) -> None:
    from django.core.management import call_command

    call_command("db_worker", "--no-startup-delay")
