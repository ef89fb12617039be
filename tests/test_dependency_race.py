"""A chord's last two dependencies recorded in concurrent transactions: the second sees the first."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import timezone

from jobqueue import enqueue
from jobqueue.engine import dependencies, sql
from jobqueue.models import Job, Status

pytestmark = pytest.mark.django_db(transaction=True)


def _record_success(job_id: str, resolved: threading.Event, wait_for: threading.Event | None) -> None:
    """What record() does for a success, in a transaction of this thread's own connection:
    the job's end written, its dependents resolved; held open until `wait_for` is set."""
    try:
        with sql.write_transaction():
            Job.objects.filter(pk=job_id).update(status=Status.SUCCEEDED, finished_at=timezone.now())
            dependencies.resolve([job_id])
            resolved.set()
            if wait_for is not None:
                wait_for.wait(timeout=1.0)  # the other transaction runs meanwhile
    finally:
        connection.close()


def test_the_chord_is_released_when_its_last_two_dependencies_end_at_once() -> None:
    first, second = enqueue("step", {"value": 1}), enqueue("step", {"value": 2})
    chord = enqueue("step", {"value": 3}, after=[first, second])
    first_resolved, second_resolved, never = threading.Event(), threading.Event(), threading.Event()
    a = threading.Thread(target=_record_success, args=(str(first.pk), first_resolved, never))
    b = threading.Thread(target=_record_success, args=(str(second.pk), second_resolved, None))
    a.start()
    assert first_resolved.wait(timeout=10)
    b.start()  # records the second while the first's transaction is still open
    a.join(timeout=15)
    b.join(timeout=15)
    assert Job.objects.get(pk=chord.pk).status == Status.QUEUED
