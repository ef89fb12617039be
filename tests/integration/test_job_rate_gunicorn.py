"""30,000 jobs through one token, sent by several clients to two gunicorn workers at once, are
admitted at the configured job rate and not one job more: the two processes share one budget
and count it atomically (the database's conditional UPDATE, services.jobrate)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobqueue.models import Job
from jobqueue.services.tokens import create_token
from tests.conftest import ROOT, database_url, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]

# An hour's window, so that the run (under a minute) fits in one and the count is exact.
ALLOWED, PERIOD = 1000, 3600
RATE = f"{ALLOWED}/hour"
ROOM = 240  # seconds the run may take before the window ends
ATTEMPTED = 30_000
BULK = 100  # divides ALLOWED, so a window's budget can be spent to the last job
CLIENTS = 6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def two_workers(transactional_db: None, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """gunicorn serving config.wsgi with two worker processes on the test database; yields its
    URL and its access log (one line per request: the worker's pid, the method, the status)."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_job_rate",
        "DATABASE_URL": database_url(),
        "TEST_API_ENQUEUE_RATE": RATE,
    }
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--access-logfile",
                str(tmp_path / "access.log"),
                "--access-logformat",
                "%(p)s %(m)s %(s)s",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{log_path.read_text()}")
            try:
                return httpx.get(f"{url}/api/health/", timeout=2).status_code in (200, 503)
            except httpx.TransportError:
                return False

        try:
            wait_for(answers, timeout=60, interval=0.2, message="gunicorn did not answer")
            yield url, tmp_path / "access.log"
        finally:
            proc.terminate()
            proc.wait(30)


@dataclass
class Tally:
    created: int = 0
    refused: int = 0
    retry_after: list[int] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


def window_of(moment: float) -> int:
    return int(moment // PERIOD)


def test_thirty_thousand_jobs_through_one_token_are_admitted_at_the_job_rate(
    two_workers: tuple[str, Path], make_user: Callable[..., Any]
) -> None:
    url, access_log = two_workers
    user = make_user("bulk-importer", "jobqueue.add_job", "jobqueue.enqueue_echo")
    token = create_token(user, "throttle probe").secret
    body = {"jobs": [{"type": "echo", "payload": {"value": 1}}] * BULK}

    # Start with room left in the window, so that the run stays within it (checked below).
    if PERIOD - time.time() % PERIOD < ROOM:
        time.sleep(PERIOD - time.time() % PERIOD + 0.05)

    def client(requests: int) -> Tally:
        tally = Tally()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            for _ in range(requests):
                answer = http.post("/api/jobs/bulk/", json=body)
                if answer.status_code == 201:
                    tally.created += answer.json()["count"]
                elif answer.status_code == 429:
                    tally.refused += 1
                    tally.retry_after.append(int(answer.headers["Retry-After"]))
                else:
                    tally.other.append(f"{answer.status_code}: {answer.text[:200]}")
        return tally

    per_client = ATTEMPTED // BULK // CLIENTS
    assert per_client * BULK * CLIENTS == ATTEMPTED
    started = time.time()
    with ThreadPoolExecutor(CLIENTS) as pool:
        tallies = list(pool.map(client, [per_client] * CLIENTS))
    ended = time.time()

    assert [t.other for t in tallies if t.other] == []
    created = sum(t.created for t in tallies)
    refused = sum(t.refused for t in tallies)
    assert (created // BULK) + refused == ATTEMPTED // BULK
    print(f"{created} jobs created, {refused} requests refused in {ended - started:.1f} s")
    windows = window_of(ended) - window_of(started) + 1
    if windows == 1:
        assert created == ALLOWED
    else:  # crossed a window's edge: the later window may not have been spent in full
        assert ALLOWED <= created <= ALLOWED * windows
    # What the database holds is what the 201 answers announced: the 429s created nothing.
    assert Job.objects.count() == created
    assert all(0 < wait <= PERIOD for t in tallies for wait in t.retry_after)

    def logged() -> list[list[str]]:
        posts = [line.split() for line in access_log.read_text().splitlines() if " POST " in line]
        return posts if len(posts) == ATTEMPTED // BULK else []

    posts = wait_for(logged, timeout=10, message="gunicorn's access log lacks requests")
    assert len({pid for pid, _, _ in posts}) == 2, "both gunicorn workers answered enqueues"
