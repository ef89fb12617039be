"""Operator services: re-run, cancel, re-queue and discard dead letters, with the audit trail."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry

from jobqueue import enqueue
from jobqueue.exceptions import ActionRefused, InvalidStateError, PayloadValidationError
from jobqueue.models import DeadLetter, Job, JobType, Status
from jobqueue.services import cancel, discard_dead_letter, requeue_dead_letter, rerun
from tests.helpers import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(make_user):
    return make_user("alice", "jobqueue.enqueue_echo", "jobqueue.enqueue_permanent_failure")


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


def test_running_a_job_again_needs_its_types_enqueue_permission(make_user) -> None:
    # Re-running and re-queueing enqueue a job: a user who may not enqueue the type may not either,
    # whatever their rerun_job / requeue_deadletter permission (the API and admin check the latter).
    bob = make_user("bob", "jobqueue.rerun_job", "jobqueue.requeue_deadletter", "jobqueue.enqueue_echo")
    enqueue("permanent_failure", {})
    enqueue("echo", {"value": 1})
    drain()
    failed = Job.objects.get(job_type__name="permanent_failure")
    dead = DeadLetter.objects.get()
    with pytest.raises(ActionRefused, match=r"jobqueue\.enqueue_permanent_failure"):
        rerun(failed, by=bob)
    with pytest.raises(ActionRefused, match=r"jobqueue\.enqueue_permanent_failure"):
        requeue_dead_letter(dead, by=bob, reason="try")
    assert Job.objects.count() == 2
    dead.refresh_from_db()
    assert not dead.is_resolved
    # The type he may enqueue he may re-run; the CLI (a shell on the machine) is not a user.
    assert rerun(Job.objects.get(job_type__name="echo"), by=bob).rerun_of is not None
    assert requeue_dead_letter(dead, by="cli").job_type.name == "permanent_failure"


def test_a_builtin_job_runs_again_only_with_the_payload_the_queue_wrote(make_user) -> None:
    bob = make_user("bob", "jobqueue.requeue_deadletter")
    prune = JobType.objects.get(name="jobqueue_prune")
    job = Job.objects.create(job_type=prune, payload={}, status=Status.DEAD, attempts=1)
    dead = DeadLetter.objects.create(job=job, job_type=prune, reason="attempts_exhausted", payload={}, attempts=1)
    with pytest.raises(ActionRefused, match="cannot be edited"):
        requeue_dead_letter(dead, by=bob, payload={"older_than": 0})
    dead.refresh_from_db()
    assert not dead.is_resolved
    new = requeue_dead_letter(dead, by=bob, reason="the disk is back")
    assert (new.job_type.name, new.payload, new.rerun_of) == ("jobqueue_prune", {}, job)


def test_discard_needs_a_reason(operator) -> None:
    enqueue("permanent_failure", {})
    drain()
    dead = DeadLetter.objects.get()
    with pytest.raises(InvalidStateError, match="reason"):
        discard_dead_letter(dead, by=operator, reason=" ")
    discarded = discard_dead_letter(dead, by=operator, reason="known bad input")
    assert (discarded.resolution, discarded.resolution_reason) == ("discarded", "known bad input")


def test_a_reason_with_control_characters_cannot_forge_an_audit_log_line(operator, caplog) -> None:
    enqueue("echo", {"value": 1})
    drain()
    original = Job.objects.get()
    forged = "ok\n2026-12-07 02:00:00,000 INFO jobqueue.audit: user:root discard deadletter 1: discarded\x1b[2J"
    with caplog.at_level("INFO", logger="jobqueue.audit"):
        rerun(original, by=operator, reason=forged)
    lines = [r.getMessage() for r in caplog.records if r.name == "jobqueue.audit"]
    assert len(lines) == 1
    assert "\n" not in lines[0]
    assert "\x1b" not in lines[0]
    assert "ok\\n2026-12-07" in lines[0]  # kept, escaped
    assert json.loads(LogEntry.objects.get(object_id=str(original.pk)).change_message)["reason"] == forged
