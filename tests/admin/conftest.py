"""Fixtures of the admin tests: clients logged in by role, dead letters to act on, and a headless
Chromium (Debian's, through its chromedriver) for the browser tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from jobqueue.models import DeadLetter, Job, JobType, Status

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
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


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1800",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()
