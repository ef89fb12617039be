"""run_job called directly after a real claim: outcomes, classification, hooks, follow-ups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobqueue import enqueue
from jobqueue.engine.pipeline import run_unit
from jobqueue.models import Attempt, DeadLetter, DeadReason, Job, JobType, Outcome, Status
from jobqueue.services import update_job_type
from tests.helpers import CLUSTER, claim, drain

pytestmark = pytest.mark.django_db


def run_one() -> Job:
    (item,) = claim(1, CLUSTER)
    run_unit(item)
    return Job.objects.get(pk=item.jobs[0][0])


def test_success_records_result_attempt_and_logs() -> None:
    enqueue("echo", {"value": 3, "label": "x"})
    job = run_one()
    assert job.status == Status.SUCCEEDED
    assert job.result["data"] == {"value": 3, "label": "x"}
    assert job.finished_at is not None
    assert job.claimed_by == ""
    (attempt,) = job.attempt_set.all()
    assert (attempt.number, attempt.outcome) == (1, Outcome.SUCCEEDED)
    assert attempt.job_type_id == job.job_type_id  # copied for the failures view
    assert attempt.duration_ms is not None
    assert attempt.logs[0]["message"] == "echo 3"


def test_retryable_failure_backs_off_then_dead_letters_after_max_attempts() -> None:
    job = enqueue("always_fails", {})
    before = timezone.now()
    job = run_one()
    assert job.status == Status.RETRYING
    assert job.attempts == 1
    assert timedelta(seconds=0.9) <= job.run_after - before <= timedelta(seconds=1.5)  # base 1 s, no jitter
    assert "failure number 1" in job.last_error
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now())
    job = run_one()
    assert job.status == Status.RETRYING
    assert timedelta(seconds=1.9) <= job.run_after - timezone.now() <= timedelta(seconds=2.1)  # 1 * 2^1
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now())
    job = run_one()
    assert job.status == Status.DEAD
    assert list(job.attempt_set.values_list("outcome", "job_type_id")) == [("failed", job.job_type_id)] * 3
    dead = DeadLetter.objects.get(job=job)
    assert dead.reason == DeadReason.ATTEMPTS_EXHAUSTED
    assert "RetryableError" in dead.error_type
    assert "failure number 3" in dead.traceback


def test_permanent_error_goes_straight_to_dead_letters() -> None:
    enqueue("permanent_failure", {})
    job = run_one()
    assert job.status == Status.DEAD
    assert job.attempts == 1
    assert DeadLetter.objects.get(job=job).reason == DeadReason.PERMANENT_ERROR


def test_failed_result_is_a_failure_not_a_success() -> None:
    from jobqueue import JobResult, job
    from jobqueue.registry import registry

    with registry.scope():

        @job(name="reports_failure", max_attempts=1)
        def reports_failure() -> JobResult:
            return JobResult.failed("upstream said no", retryable=False)

        enqueue("reports_failure", {})
        result = run_one()
    assert result.status == Status.DEAD
    assert "upstream said no" in result.last_error


def test_follow_ups_commit_only_with_success() -> None:
    enqueue("spawn_follow_up", {"value": 5})
    parent = run_one()
    child = Job.objects.get(job_type__name="echo")
    assert child.payload == {"value": 5, "label": ""}
    assert child.created_by == f"job:{parent.pk}"
    assert drain() == ["succeeded"]
    enqueue("spawn_follow_up", {"value": 6, "fail": True})
    failed = run_one()
    assert failed.status == Status.DEAD
    assert Job.objects.filter(job_type__name="echo").count() == 1


def test_invalid_stored_payload_is_dead_lettered_as_such() -> None:
    job = enqueue("echo", {"value": 1})
    Job.objects.filter(pk=job.pk).update(payload={"value": "not a number"})
    assert run_one().status == Status.DEAD
    assert DeadLetter.objects.get(job=job).reason == DeadReason.INVALID_PAYLOAD


def test_invalid_configuration_fails_the_attempt_permanently() -> None:
    record = JobType.objects.get(name="typed_settings")
    update_job_type(record, {"enabled": True})
    JobType.objects.filter(pk=record.pk).update(settings={"retries": "many"})  # bypasses validation
    enqueue("typed_settings", {"text": "hi"})
    job = run_one()
    assert job.status == Status.DEAD
    assert "configuration is invalid" in job.last_error


def test_lost_claim_records_nothing() -> None:
    enqueue("echo", {"value": 1})
    (item,) = claim(1, CLUSTER)
    Job.objects.filter(pk=item.jobs[0][0]).update(claimed_by="another-cluster")
    assert run_unit(item) == "lost"
    assert Attempt.objects.count() == 0


def test_drain_runs_everything_exactly_once() -> None:
    for value in range(25):
        enqueue("echo", {"value": value})
    statuses = drain()
    assert statuses == ["succeeded"] * 25
    assert Attempt.objects.count() == 25
    assert set(Job.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_follow_up_with_a_bad_option_fails_this_attempt_not_its_recording() -> None:
    from jobqueue import job
    from jobqueue.registry import registry

    with registry.scope():

        @job(name="bad_follow_up", max_attempts=1)
        def bad_follow_up(ctx) -> None:
            ctx.enqueue("echo", {"value": 1}, priority=500)

        enqueue("bad_follow_up", {})
        result = run_one()
    assert result.status == Status.DEAD
    assert "priority" in result.last_error
    assert not Job.objects.filter(job_type__name="echo").exists()


def test_a_follow_up_keeps_the_parent_as_its_creator_and_refuses_created_by() -> None:
    # docs/writing-jobs.md, "Follow-up jobs": created_by is always job:<parent id>.
    from jobqueue import job
    from jobqueue.registry import registry

    with registry.scope():

        @job(name="names_its_creator", max_attempts=1)
        def names_its_creator(ctx) -> None:
            ctx.enqueue("echo", {"value": 1}, created_by="someone else")

        enqueue("names_its_creator", {})
        result = run_one()
    assert result.status == Status.DEAD
    assert "created_by: not an option of enqueue" in result.last_error
