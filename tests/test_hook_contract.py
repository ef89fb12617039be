"""The hook contract: a hook runs only for an attempt whose decision was recorded, and at
most once per attempt, whether the worker or the reclaimer closed it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pydantic
import pytest
from django.utils import timezone

from jobqueue import BaseJob, PermanentError, enqueue, job
from jobqueue.config.effective import type_state
from jobqueue.engine import transitions
from jobqueue.engine.decide import AttemptReport, DecidedAttempt, decide
from jobqueue.engine.pipeline import run_unit
from jobqueue.engine.reclaim import reclaim_lost
from jobqueue.engine.units import Claim
from jobqueue.models import Job, Outcome, Status
from jobqueue.registry import registry
from jobqueue.testing import drain
from tests.helpers import CLUSTER, claim

pytestmark = pytest.mark.django_db

CALLS: list[tuple[str, str]] = []


@pytest.fixture
def doomed_types() -> Iterator[None]:
    CALLS.clear()
    with registry.scope():

        @job(name="steals_its_claim", max_attempts=1)
        class StealsItsClaim(BaseJob):
            """Fails after another cluster took its claim over (as a reclaim would)."""

            class Payload(pydantic.BaseModel):
                item: int

            def execute(self, ctx: Any, payload: Payload) -> None:
                Job.objects.filter(pk=ctx.job_id).update(claimed_by="another-cluster")
                raise PermanentError("failed, but too late to say so")

            def on_dead(self, ctx: Any, payload: Any, error: BaseException | None) -> None:
                CALLS.append(("on_dead", ctx.job_id))

            def on_failure(self, ctx: Any, payload: Any, error: BaseException) -> None:
                CALLS.append(("on_failure", ctx.job_id))

        yield


def test_no_hook_runs_for_an_attempt_whose_claim_was_lost_before_recording(doomed_types: None) -> None:
    row = enqueue("steals_its_claim", {"item": 1})
    (unit,) = claim(1, CLUSTER)
    run_unit(unit)
    stored = Job.objects.get(pk=row.pk)
    assert stored.status == Status.RUNNING  # not recorded: the other cluster owns it now
    assert not stored.attempt_set.exists()
    assert CALLS == []  # and no hook ran for it


def test_a_reclaimed_attempt_runs_its_hook_once_even_if_its_worker_reports_late(doomed_types: None) -> None:
    row = enqueue("steals_its_claim", {"item": 2})
    (unit,) = claim(1, CLUSTER)
    (snapshot,) = transitions.start_unit(unit.claims, worker="h:1", timeout=20)
    # The worker is silent; its lease runs out and any cluster reclaims the attempt.
    Job.objects.filter(pk=row.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert len(reclaim_lost()) == 1
    assert len(reclaim_lost()) == 0  # closed once
    # The worker comes back and tries to record its own failure: its claim is gone.
    report = AttemptReport(outcome=Outcome.FAILED, retryable=False)
    decision = decide(report, 1, 1, type_state("steals_its_claim").config, timezone.now())
    assert transitions.record([DecidedAttempt.of(snapshot, report, decision)]) == []
    assert drain() == ["succeeded"]  # the one hook job
    assert [("on_dead", str(row.pk))] == CALLS
    assert Job.objects.get(pk=row.pk).status == Status.DEAD
    assert Claim(str(row.pk), 1, CLUSTER) == snapshot.claim
