"""A chunk of short jobs steps aside for a unit of higher priority waiting for a worker: it
stops between two jobs and hands the rest back, attempts unspent, places in the queue kept;
a unit that such a one waits behind in the local queue is handed back whole, never started."""

from __future__ import annotations

import pytest

from jobqueue import enqueue_many
from jobqueue.engine import claim as engine_claim
from jobqueue.engine import inflight
from jobqueue.engine.pipeline import run_unit
from jobqueue.models import Attempt, Job, Status
from tests.helpers import CLUSTER, drain

pytestmark = pytest.mark.django_db


def _chunk_of_ten(urgency: int | None = None) -> object:
    """A claimed unit of ten short jobs; the first one, while it runs, signals a waiting unit
    of priority `urgency` (as the pusher does when it queues one while every worker is busy)."""
    first = {"ms": 0} if urgency is None else {"ms": 0, "urgency": urgency}
    enqueue_many([{"type": "short", "payload": first}] + [{"type": "short", "payload": {"ms": 0}}] * 9)
    (unit,) = engine_claim.claim(1, CLUSTER, lambda state: 10)
    assert len(unit.jobs) == 10
    return unit


def test_a_chunk_hands_back_its_rest_when_a_higher_priority_unit_waits(shared_state: None) -> None:
    unit = _chunk_of_ten(urgency=100)  # a CRITICAL unit queued while the first job runs
    assert run_unit(unit) == "recorded"
    ran = Job.objects.filter(status=Status.SUCCEEDED)
    back = Job.objects.filter(status=Status.QUEUED)
    assert (ran.count(), back.count()) == (1, 9)  # one job run, then it stepped aside
    assert Attempt.objects.count() == 1
    # Handed back as if never claimed: no attempt spent, no claim, no start.
    assert set(back.values_list("attempts", "claimed_by", "started_at", "last_error")) == {(0, "", None, "")}
    # The signal is still up (nobody took the CRITICAL unit yet); once taken, chunks run whole.
    assert inflight.outranked(0)
    inflight.taken(100)
    assert not inflight.outranked(0)
    assert sorted(drain()) == ["succeeded"] * 9
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}


def test_a_chunk_runs_whole_when_what_waits_has_no_higher_priority(shared_state: None) -> None:
    unit = _chunk_of_ten(urgency=0)  # another unit of the same priority: no reason to step aside
    assert run_unit(unit) == "recorded"
    assert Job.objects.filter(status=Status.SUCCEEDED).count() == 10


def test_a_unit_taken_while_a_higher_priority_one_waits_goes_back_unstarted(shared_state: None) -> None:
    """The worker that takes it would otherwise write its start and run a job before the
    urgent unit queued behind it got a worker."""
    unit = _chunk_of_ten()
    inflight.add(1)  # the pusher's count of units it holds
    inflight.waiting(100)  # queued behind this unit in the local queue
    assert run_unit(unit) == "released"
    assert set(Job.objects.values_list("status", "attempts", "claimed_by", "started_at")) == {
        (Status.QUEUED, 0, "", None)
    }
    assert Attempt.objects.count() == 0
    assert inflight.held() == 0  # its slot is free for the urgent unit
    inflight.taken(100)
    assert sorted(drain()) == ["succeeded"] * 10


def test_a_waiting_units_priority_outranks_chunks_only_for_a_while(shared_state: None) -> None:
    inflight.waiting(50)
    assert inflight.outranked(0)
    assert not inflight.outranked(50)
    inflight._urgent[1] = 0.0  # as if URGENT_FOR had passed: a unit lost on its way to a worker
    assert not inflight.outranked(0)


def test_jobs_handed_back_leave_their_rate_limit_window(shared_state: None, tmp_path) -> None:
    from jobqueue.models import RateLimitStart

    enqueue_many([{"type": "rate_limited", "payload": {"ledger": str(tmp_path / "ledger")}}] * 5)
    (unit,) = engine_claim.claim(1, CLUSTER, lambda state: 5)
    assert RateLimitStart.objects.count() == 5  # the claim counts five starts in the window
    inflight.waiting(100)
    assert run_unit(unit) == "released"
    # Handed back before any started: the window holds no start, not five.
    assert Job.objects.filter(status=Status.QUEUED).count() == 5
    assert RateLimitStart.objects.count() == 0
