"""Snooze: a job that asks to run again later, in-process through the real engine."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from jobqueue import JobResult, Snooze, enqueue
from jobqueue.models import Attempt, DeadLetter, Job, Outcome, Status
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def _outcomes(job: Job) -> list[str]:
    return list(Attempt.objects.filter(job=job).order_by("number").values_list("outcome", flat=True))


def test_a_raised_snooze_schedules_the_job_without_spending_its_attempt(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    job = enqueue("snoozer", {"times": 1, "seconds": 30, "ledger": str(ledger)})
    before = timezone.now()
    assert drain() == ["scheduled"]
    stored = Job.objects.get(pk=job.pk)
    assert stored.status == Status.SCHEDULED
    assert before + timedelta(seconds=29) < stored.run_after < timezone.now() + timedelta(seconds=31)
    # One attempt made and kept in the history; the budget grew by one, so none was spent.
    assert (stored.attempts, stored.max_attempts) == (1, 3)
    (attempt,) = Attempt.objects.filter(job=job)
    assert (attempt.outcome, attempt.error_message) == (Outcome.SNOOZED, "snoozed for 30 s")
    assert stored.last_error == ""
    assert not DeadLetter.objects.exists()
    assert not ledger.exists()  # neither on_failure nor on_dead: a snooze is not a failure


@pytest.mark.parametrize("returned", [False, True])
def test_a_snoozed_job_runs_again_and_keeps_every_attempt_in_its_history(returned: bool) -> None:
    job = enqueue("snoozer", {"times": 2, "seconds": 0, "returned": returned})
    drain()  # a snooze of 0 s is ready again at once: three attempts in one drain
    stored = Job.objects.get(pk=job.pk)
    assert stored.status == Status.SUCCEEDED
    assert _outcomes(job) == ["snoozed", "snoozed", "succeeded"]
    assert stored.result["data"] == {"attempt": 3}
    assert (stored.attempts, stored.max_attempts) == (3, 4)
    if returned:
        assert Attempt.objects.filter(job=job, number=1).get().error_message == "not yet"


def test_snoozes_leave_the_whole_budget_for_real_failures(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    job = enqueue("snoozer", {"times": 2, "fail": True, "ledger": str(ledger)})
    drain()
    stored = Job.objects.get(pk=job.pk)
    # max_attempts=2: both real attempts were made after the two snoozes.
    assert _outcomes(job) == ["snoozed", "snoozed", "failed", "failed"]
    assert stored.status == Status.DEAD
    assert DeadLetter.objects.get(job_id=job.pk).attempts == 4
    assert ledger.read_text().split("\n")[:2] == ["on_failure 3", "on_dead 4"]


def test_an_async_job_snoozes_like_a_sync_one() -> None:
    job = enqueue("async_snoozer", {"seconds": 0})
    drain()
    assert Job.objects.get(pk=job.pk).status == Status.SUCCEEDED
    assert _outcomes(job) == ["snoozed", "succeeded"]
    assert Attempt.objects.get(job=job, number=1).error_message == "later, please"


@pytest.mark.parametrize("seconds", [-1, float("nan")])
def test_a_snooze_needs_a_delay_of_zero_or_more(seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds >= 0"):
        Snooze(seconds)
    with pytest.raises(ValueError, match="seconds >= 0"):
        JobResult.snooze(seconds)
