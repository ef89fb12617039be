"""Retention: old finished history goes in batches; recent, unfinished and unresolved stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from jobqueue import enqueue
from jobqueue.models import Attempt, DeadLetter, Job, JobType, Status
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
