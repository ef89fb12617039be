"""Operator services: re-run, cancel, re-queue and discard dead letters, with the audit trail."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry

from jobqueue import enqueue
from jobqueue.exceptions import InvalidStateError, PayloadValidationError
from jobqueue.models import DeadLetter, Job, Status
from jobqueue.services import cancel, discard_dead_letter, requeue_dead_letter, rerun
from tests.helpers import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(make_user):
    return make_user("alice")


def test_rerun_links_the_new_job_and_is_audited(operator) -> None:
    enqueue("echo", {"value": 1})
    drain()
    original = Job.objects.get()
    new = rerun(original, by=operator, reason="customer asked")
    assert new.rerun_of == original
    assert new.payload == original.payload
    assert new.created_by == "user:alice"
    entry = LogEntry.objects.get(object_id=str(original.pk))
    assert entry.user == operator
    assert json.loads(entry.change_message)["reason"] == "customer asked"


def test_rerun_of_an_unfinished_job_is_refused(operator) -> None:
    job = enqueue("echo", {"value": 1})
    with pytest.raises(InvalidStateError, match="finished"):
        rerun(job, by=operator)


def test_cancel_waiting_job_at_once_and_finished_job_refused(operator) -> None:
    job = enqueue("echo", {"value": 1})
    cancelled = cancel(job, by=operator, reason="mistake")
    assert cancelled.status == Status.CANCELLED
    assert drain() == []
    with pytest.raises(InvalidStateError, match="already cancelled"):
        cancel(cancelled, by=operator)


def test_cancel_of_a_running_job_is_a_request(operator) -> None:
    from tests.helpers import CLUSTER, claim

    job = enqueue("echo", {"value": 1})
    claim(1, CLUSTER)
    requested = cancel(job, by=operator)
    assert requested.status == Status.RUNNING
    assert requested.cancel_requested_at is not None


def test_requeue_dead_letter_with_a_corrected_payload(operator) -> None:
    job = enqueue("echo", {"value": 1})
    Job.objects.filter(pk=job.pk).update(payload={"value": "broken"})
    drain()
    dead = DeadLetter.objects.get()
    with pytest.raises(PayloadValidationError):
        requeue_dead_letter(dead, by=operator, payload={"value": "still broken"})
    assert DeadLetter.objects.get().resolution == ""
    new = requeue_dead_letter(dead, by=operator, payload={"value": 2}, reason="fixed the input")
    dead.refresh_from_db()
    assert (dead.resolution, dead.requeued_job, dead.resolved_by) == ("requeued", new, "user:alice")
    assert drain() == ["succeeded"]
    with pytest.raises(InvalidStateError, match="already resolved"):
        requeue_dead_letter(dead, by=operator)


def test_discard_needs_a_reason(operator) -> None:
    enqueue("permanent_failure", {})
    drain()
    dead = DeadLetter.objects.get()
    with pytest.raises(InvalidStateError, match="reason"):
        discard_dead_letter(dead, by=operator, reason=" ")
    discarded = discard_dead_letter(dead, by=operator, reason="known bad input")
    assert (discarded.resolution, discarded.resolution_reason) == ("discarded", "known bad input")
