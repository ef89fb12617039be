"""Shared fixtures: clean configuration caches, users by role, and real qcluster subprocesses."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from jobqueue.config.effective import clear_cache

ROOT = Path(__file__).resolve().parent.parent


# What gives a test the leg's database (pytest-django refuses any other access to it).
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `database_independent` takes a test off the PostgreSQL and MariaDB legs. A test that uses
    # the leg's database may carry it only with the reason why what it proves does not depend on
    # the database (the browser's tests: the admin's queries are tested on every leg without it).
    for item in items:
        mark = item.get_closest_marker("database_independent")
        uses_database = item.get_closest_marker("django_db") or DATABASE_FIXTURES & set(
            getattr(item, "fixturenames", ())
        )
        if mark and uses_database and not mark.kwargs.get("reason"):
            raise pytest.UsageError(
                f"{item.nodeid} is marked database_independent but uses the database: remove the mark (it then "
                "runs on every leg) or give the reason (database_independent(reason=...))"
            )


@pytest.fixture(autouse=True)
def _fresh_type_config() -> Iterator[None]:
    # Records are recreated between transactional tests; cached ids must not outlive them.
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def shared_state() -> Iterator[None]:
    """The cluster's shared memory (`engine.inflight`), as the broker installs it before it
    forks; gone again after the test, as in a process that is no cluster."""
    from jobqueue.engine import inflight
    from jobqueue.registry import registry

    inflight.install([d.name for d in registry])
    try:
        yield
    finally:
        inflight._units = inflight._durations = inflight._workers = inflight._urgent = None
        inflight._warm.clear()


@pytest.fixture
def make_user(django_user_model: Any) -> Callable[..., Any]:
    """Build a user with the given permission codenames (e.g. "jobqueue.rerun_job")."""
    from django.contrib.auth.models import Permission

    def build(username: str = "operator", *perms: str, staff: bool = True, superuser: bool = False) -> Any:
        user = django_user_model.objects.create_user(
            username=username, password="pw-for-tests-only", is_staff=staff, is_superuser=superuser
        )
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        return django_user_model.objects.get(pk=user.pk)

    return build


def database_url() -> str:
    """The URL of the database the tests are using right now (the test database)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    mysql = connection.vendor == "mysql"
    user = settings.get("USER") or ("root" if mysql else "postgres")
    password = f":{quote(settings['PASSWORD'], safe='')}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or (3306 if mysql else 5432)
    return f"{'mysql' if mysql else 'postgres'}://{user}{password}@{host}:{port}/{settings['NAME']}"


class ClusterProcess:
    """A real `manage.py qcluster` subprocess against the test database."""

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def children(self) -> list[int]:
        """Pids of the cluster's processes (sentinel, pusher, monitor, workers)."""
        out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
        parents: dict[int, list[int]] = {}
        for line in out.split("\n"):
            if line.strip():
                pid, ppid = (int(x) for x in line.split())
                parents.setdefault(ppid, []).append(pid)
        found, frontier = [], [self.proc.pid]
        while frontier:
            kids = parents.get(frontier.pop(), [])
            found.extend(kids)
            frontier.extend(kids)
        return found

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                for pid in [*self.children(), self.proc.pid]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def start_cluster(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., ClusterProcess]]:
    """Start real qcluster subprocesses on the test database; all are stopped after the test."""
    started: list[ClusterProcess] = []

    def start(workers: int = 2, wait_ready: bool = True, **env_extra: str) -> ClusterProcess:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "Q_WORKERS": str(workers),
            "Q_LOG_LEVEL": "INFO",
            # The metrics rollup is scheduled every minute, on the minute: its jobs would join the
            # ones a test counts. Pinned off here; the rollup has its own tests.
            "JOBQUEUE_JOBQUEUE_ROLLUP_SCHEDULE": "off",
            **env_extra,
        }
        cluster = ClusterProcess(tmp_path / f"cluster-{len(started)}.log", env)
        started.append(cluster)
        if wait_ready:
            deadline = time.monotonic() + 30
            while "running." not in cluster.output():
                if cluster.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"qcluster did not start:\n{cluster.output()}")
                time.sleep(0.1)
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


def wait_for(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.1, message: str = "") -> Any:
    """Poll until predicate() is truthy; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        time.sleep(interval)


@pytest.fixture
def add_attempt(db: None) -> Callable[..., Any]:
    """Build a finished job with one attempt: `add_attempt("echo", "succeeded", duration_ms=5)`."""
    from datetime import timedelta

    from django.utils import timezone

    from jobqueue.models import Attempt, DeadLetter, Job, JobType, Outcome, Status

    final = {
        Outcome.SUCCEEDED: Status.SUCCEEDED,
        Outcome.SKIPPED: Status.SKIPPED,
        Outcome.CANCELLED: Status.CANCELLED,
    }

    def build(
        type_name: str,
        outcome: str,
        *,
        duration_ms: int = 100,
        wait_ms: int = 0,
        finished_ago: float = 60.0,
        number: int = 1,
        dead: bool = False,
        now: Any = None,
    ) -> Any:
        now = now or timezone.now()
        finished = now - timedelta(seconds=finished_ago)
        started = finished - timedelta(milliseconds=duration_ms)
        status = final.get(Outcome(outcome), Status.DEAD if dead else Status.RETRYING)
        job = Job.objects.create(
            job_type=JobType.objects.get(name=type_name),
            status=status,
            attempts=number,
            created_at=started - timedelta(milliseconds=wait_ms),
            run_after=started - timedelta(milliseconds=wait_ms),
            started_at=started,
            finished_at=finished if status != Status.RETRYING else None,
        )
        Attempt.objects.create(
            job=job,
            number=number,
            started_at=started,
            finished_at=finished,
            duration_ms=duration_ms,
            outcome=outcome,
            error_type="" if outcome == Outcome.SUCCEEDED else "RuntimeError",
        )
        if dead:
            DeadLetter.objects.create(
                job=job, job_type=job.job_type, reason="attempts_exhausted", attempts=number, created_at=finished
            )
        return job

    return build
