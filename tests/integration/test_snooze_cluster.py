"""Snooze in a real qcluster: the job waits out its snooze and runs again, attempts unspent."""

from __future__ import annotations

import pytest

from jobqueue import enqueue
from jobqueue.models import Attempt, Job, Status
from tests.conftest import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_a_snoozed_job_runs_again_after_its_snooze(start_cluster) -> None:
    job = enqueue("snoozer", {"times": 1, "seconds": 2})
    start_cluster(workers=1)
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Status.SUCCEEDED, timeout=60)
    first, second = Attempt.objects.filter(job=job).order_by("number")
    assert (first.outcome, second.outcome) == ("snoozed", "succeeded")
    assert (second.started_at - first.finished_at).total_seconds() >= 1.9  # waited out the snooze
    stored = Job.objects.get(pk=job.pk)
    assert (stored.attempts, stored.max_attempts) == (2, 3)
