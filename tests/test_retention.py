"""Retention: old finished history goes in batches; recent, unfinished and unresolved stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from jobqueue import Workflow, enqueue, needs
from jobqueue.models import Attempt, DeadLetter, Dependency, Job, JobType, Status
from jobqueue.services import discard_dead_letter, prune, run_now, update_job_type
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def age(days: float) -> None:
    Job.objects.filter(status__in=["succeeded", "dead"]).update(finished_at=timezone.now() - timedelta(days=days))


def test_prune_deletes_old_finished_jobs_with_their_attempts_and_keeps_the_rest() -> None:
    for i in range(5):
        enqueue("echo", {"value": i})
    drain()
    age(8)  # the default retention is 7 days
    recent = enqueue("echo", {"value": 99})
    drain()
    waiting = enqueue("echo", {"value": 100}, delay=3600)
    report = prune(batch_size=2)
    assert report.jobs == 5
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert Attempt.objects.count() == 1


def test_type_retention_overrides_the_default() -> None:
    update_job_type(JobType.objects.get(name="echo"), {"retention": 3600})
    enqueue("echo", {"value": 1})
    drain()
    age(0.5)
    assert prune().jobs == 1


def test_unresolved_dead_letters_are_kept_until_resolved(make_user) -> None:
    enqueue("permanent_failure", {})
    drain()
    age(30)
    assert prune().jobs == 0
    discard_dead_letter(DeadLetter.objects.get(), by=make_user(), reason="known")
    assert prune().jobs == 1
    assert DeadLetter.objects.count() == 0


def test_prune_batches_are_bounded() -> None:
    for i in range(7):
        enqueue("echo", {"value": i})
    drain()
    age(10)
    report = prune(batch_size=2, max_batches=2)
    assert (report.jobs, report.complete) == (4, False)
    call_command("jobqueue", "prune")
    assert Job.objects.count() == 0


def test_run_now_enqueues_and_audits(make_user) -> None:
    job = run_now(JobType.objects.get(name="echo"), {"value": 5}, by=make_user())
    assert job.status == Status.QUEUED
    assert job.created_by == "run-now:user:operator"


def test_a_workflow_goes_whole_once_every_job_of_it_is_past_retention() -> None:
    update_job_type(JobType.objects.get(name="echo"), {"retention": 3600})  # step keeps the default 7 days
    flow = Workflow()
    first = flow.add("echo", {"value": 1})
    flow.add("echo", {"value": 3}, after=[first])
    flow.add("step", {"value": 2})
    flow.enqueue()
    loose = enqueue("echo", {"value": 4})
    drain()
    Job.objects.update(finished_at=timezone.now() - timedelta(days=2))
    # The echo jobs are past their hour, the step within its 7 days: the loose echo goes,
    # nothing of the workflow does.
    assert prune().jobs == 1
    assert not Job.objects.filter(pk=loose.pk).exists()
    assert Job.objects.filter(workflow_id=flow.id).count() == 3
    Job.objects.filter(job_type__name="step").update(finished_at=timezone.now() - timedelta(days=8))
    assert prune().jobs == 3
    assert Job.objects.count() == 0
    assert Dependency.objects.count() == 0


def test_a_workflow_with_a_job_not_finished_or_an_unresolved_dead_letter_is_kept(make_user, tmp_path) -> None:
    marker = tmp_path / "fail"
    marker.touch()
    flow = Workflow()
    bad = flow.add("step", {"fail_while": str(marker)})
    flow.add("step", {}, after=[needs(bad, ignore_failure=True)])
    flow.enqueue()
    waiting = Workflow()
    done = waiting.add("echo", {"value": 1})
    waiting.add("echo", {"value": 2}, after=[done], delay=3600)  # scheduled an hour on
    waiting.enqueue()
    drain()
    assert Job.objects.get(pk=bad.job.pk).status == Status.DEAD
    Job.objects.exclude(finished_at=None).update(finished_at=timezone.now() - timedelta(days=30))
    assert prune().jobs == 0  # the dead letter needs an operator; the other workflow waits
    discard_dead_letter(DeadLetter.objects.get(), by=make_user(), reason="known")
    assert prune().jobs == 2
    assert Job.objects.filter(workflow_id=waiting.id).count() == 2
