"""API fixtures: clients holding a token for a user with chosen permissions; the cache emptied."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from jobqueue.services.tokens import create_token

EVERYTHING = (
    "jobqueue.view_jobtype",
    "jobqueue.change_jobtype",
    "jobqueue.view_job",
    "jobqueue.add_job",
    "jobqueue.rerun_job",
    "jobqueue.cancel_job",
    "jobqueue.view_deadletter",
    "jobqueue.requeue_deadletter",
    "jobqueue.discard_deadletter",
    # Each job type needs its own enqueue permission besides add_job: the fixture types the API tests enqueue.
    *(f"jobqueue.enqueue_{name}" for name in ("echo", "noop", "typed_settings", "permanent_failure", "unique_by_key")),
)


@pytest.fixture(autouse=True)
def _fresh_throttles(request: pytest.FixtureRequest) -> Iterator[None]:
    # The cache (the health verdict, the chainhook guard's counts) is a database table: only
    # tests with database access touch it. The job-rate counts are rows that roll back with the test.
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames)
    if uses_db:
        cache.clear()
    yield
    if uses_db:
        cache.clear()


@pytest.fixture
def client_for(make_user: Callable[..., Any]) -> Callable[..., APIClient]:
    """An APIClient authenticated by a fresh token of a user holding exactly `perms`."""
    counter = iter(range(1_000_000))

    def build(*perms: str, username: str = "") -> APIClient:
        user = make_user(username or f"user{next(counter)}", *perms)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(user, 'tests').secret}")
        client.user = user  # type: ignore[attr-defined]
        return client

    return build


@pytest.fixture
def api(client_for: Callable[..., APIClient]) -> APIClient:
    """A client allowed everything the API offers."""
    return client_for(*EVERYTHING, username="operator")
