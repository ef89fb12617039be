"""Fixtures of the admin tests: clients logged in by role, and dead letters to act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from jobqueue.models import DeadLetter, Job, JobType, Status

VIEW_ONLY = ("jobqueue.view_job", "jobqueue.view_deadletter", "jobqueue.view_jobtype", "jobqueue.view_attempt")


@pytest.fixture
def login(make_user: Callable[..., Any]) -> Callable[..., Client]:
    """A client logged in as a new staff user with the given permissions (view-only by default)."""
    counter = iter(range(1000))

    def build(*perms: str, superuser: bool = False) -> Client:
        user = make_user(f"user{next(counter)}", *VIEW_ONLY, *perms, superuser=superuser)
        client = Client()
        client.force_login(user)
        return client

    return build


@pytest.fixture
def make_dead_letter(db: None) -> Callable[..., DeadLetter]:
    def build(type_name: str = "echo", payload: Any = None, error: str = "boom") -> DeadLetter:
        payload = {"value": 1} if payload is None else payload
        job = Job.objects.create(
            job_type=JobType.objects.get(name=type_name), payload=payload, status=Status.DEAD, attempts=1
        )
        return DeadLetter.objects.create(
            job=job,
            job_type=job.job_type,
            reason="attempts_exhausted",
            error_type="RuntimeError",
            error_message=error,
            traceback=f"Traceback (most recent call last):\n  RuntimeError: {error}",
            payload=payload,
            attempts=1,
        )

    return build
