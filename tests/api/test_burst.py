"""A burst of concurrent enqueues against a live server: every request gets an answer, never a
500 (on PostgreSQL the requests share the web process's bounded connection pool)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.db import connection

from jobqueue.models import Job
from jobqueue.services.tokens import create_token

THREADS, REQUESTS = 8, 30


@pytest.mark.timeout(180)
def test_concurrent_enqueues_never_answer_500(live_server: Any, make_user: Any, settings: Any) -> None:
    user = make_user("burst", "jobqueue.add_job", "jobqueue.enqueue_echo")
    headers = {"Authorization": f"Bearer {create_token(user, 'burst').secret}"}

    def burst(thread: int) -> list[int]:
        with httpx.Client(base_url=live_server.url, headers=headers, timeout=60) as client:
            return [
                client.post("/api/jobs/", json={"type": "echo", "payload": {"value": thread * 100 + i}}).status_code
                for i in range(REQUESTS)
            ]

    with ThreadPoolExecutor(THREADS) as pool:
        codes = Counter(code for codes in pool.map(burst, range(THREADS)) for code in codes)
    assert codes == {201: THREADS * REQUESTS}, codes
    assert Job.objects.filter(job_type__name="echo").count() == THREADS * REQUESTS
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            (open_connections,) = cursor.fetchone()
        # This process (the test and the live server's request threads) within its pool.
        assert open_connections <= settings.DATABASE_POOL_SIZE, open_connections
