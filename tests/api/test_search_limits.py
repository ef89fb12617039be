"""Operator searches have a time limit the database enforces; the anonymous health verdict is cached."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from jobqueue import enqueue
from jobqueue.observability.search import SearchTimeout, time_limited

pytestmark = pytest.mark.django_db

SLEEP = {"postgresql": "SELECT pg_sleep(2)", "mysql": "SELECT SLEEP(2)"}


def test_a_search_past_the_limit_is_cancelled_by_the_database() -> None:
    if connection.vendor not in SLEEP:
        pytest.skip("SQLite has no statement timeout (an embedded, single-host database)")
    with pytest.raises(SearchTimeout, match="narrow it"), time_limited(0.2), connection.cursor() as cursor:
        cursor.execute(SLEEP[connection.vendor])
    with time_limited(5), connection.cursor() as cursor:  # a quick query is untouched
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1


def test_the_limit_ends_with_the_search() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's setting")
    with time_limited(3), connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "3s"
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] != "3s"


def test_a_search_runs_under_the_limit(api: Any) -> None:
    enqueue("echo", {"value": 1})
    response = api.get("/api/jobs/", {"q": "value=1"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@override_settings(JOBQUEUE={**settings.JOBQUEUE, "HEALTH_CACHE_SECONDS": 5})
def test_the_anonymous_health_verdict_is_cached(client_for: Any) -> None:
    from rest_framework.test import APIClient

    assert APIClient().get("/api/health/").json()["status"] == "healthy"
    enqueue("echo", {"value": 1})  # ready, and no live cluster: unhealthy from now on
    cached = APIClient().get("/api/health/")
    assert (cached.status_code, cached.json()["status"]) == (200, "healthy")  # computed at most every 5 s
    fresh = client_for("jobqueue.view_job").get("/api/health/")  # an operator sees the present
    assert fresh.json()["status"] != "healthy"
    with override_settings(JOBQUEUE={"HEALTH_CACHE_SECONDS": 0}):
        from django.core.cache import cache

        cache.clear()
        assert APIClient().get("/api/health/").status_code == 503
