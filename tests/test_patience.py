"""Engine writes through a dropped connection (PostgreSQL, MariaDB): retried, so the job is neither run again nor stranded."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from jobqueue import enqueue
from jobqueue.config.effective import type_state
from jobqueue.engine import transitions
from jobqueue.engine.decide import AttemptReport, DecidedAttempt, decide
from jobqueue.models import Attempt, Job, Outcome, Status
from tests.helpers import CLUSTER, claim

pytestmark = pytest.mark.django_db(transaction=True)


def _drop_our_connection() -> None:
    """Terminate this process's database session from another connection (a real fault)."""
    connection.ensure_connection()
    params = connection.get_connection_params()
    if connection.vendor == "mysql":
        import MySQLdb

        session = connection.connection.thread_id()
        login = {k: params[k] for k in ("host", "port", "user", "password", "passwd") if k in params}
        admin = MySQLdb.connect(**login)
        try:
            admin.cursor().execute("KILL %s", [session])
        finally:
            admin.close()
        return
    backend = connection.connection.info.backend_pid
    with psycopg.connect(
        host=params.get("host"), port=params.get("port"), user=params.get("user"), dbname="postgres", autocommit=True
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])


@pytest.fixture
def server_only() -> Iterator[None]:
    if connection.vendor == "sqlite":
        pytest.skip("terminates a database server's session; SQLite has no connection to drop")
    yield
    # Leave no terminated connection behind for later tests, in the pool (if the settings
    # give this process one) or in this thread.
    connection.close()
    close_pool = getattr(connection, "close_pool", None)
    if close_pool is not None:
        close_pool()


def test_a_start_and_a_recording_cut_by_a_dropped_connection_are_retried(server_only: None) -> None:
    job = enqueue("echo", {"value": 5})
    (unit,) = claim(1, CLUSTER)
    _drop_our_connection()
    (snapshot,) = transitions.patiently(transitions.start_unit, unit.claims, worker="h:1", timeout=30, patience=10)
    report = AttemptReport(outcome=Outcome.SUCCEEDED, started_at=snapshot.started_at, finished_at=timezone.now())
    decision = decide(report, snapshot.attempt, snapshot.max_attempts, type_state("echo").config, report.finished_at)
    _drop_our_connection()
    recorded = transitions.record_patiently([DecidedAttempt.of(snapshot, report, decision)], patience=10)
    assert len(recorded) == 1
    stored = Job.objects.get(pk=job.pk)
    assert (stored.status, stored.attempts) == (Status.SUCCEEDED, 1)
    assert Attempt.objects.filter(job=job).count() == 1


def test_past_its_patience_the_write_gives_up_and_leaves_the_job_to_the_reclaimer(server_only: None) -> None:
    from django.db import OperationalError

    job = enqueue("echo", {"value": 6})
    (unit,) = claim(1, CLUSTER)
    calls = []

    def always_dropped() -> None:
        calls.append(1)
        _drop_our_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    with pytest.raises(OperationalError):
        transitions.patiently(always_dropped, patience=0.5)
    assert len(calls) >= 2  # retried before giving up
    assert Job.objects.get(pk=job.pk).status == Status.RUNNING  # untouched: the reclaimer's now
    assert unit.claims[0].job_id == str(job.pk)
