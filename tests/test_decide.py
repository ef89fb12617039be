"""The retry policy, table-tested: what an attempt raised x its number x the type's options ->
the outcome, the job's next status, the delay, and the hook the decision calls for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest

from jobqueue.config.options import CODE_DEFAULTS, EffectiveConfig
from jobqueue.engine.decide import AttemptReport, Decision, classify, decide, give_back
from jobqueue.exceptions import PermanentError, RetryableError
from jobqueue.models import DeadReason, Outcome, Status
from jobqueue.registry import JobDefinition

pytestmark = pytest.mark.database_independent

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Upstream(Exception):
    pass


class Refused(Exception):
    pass


def definition(retry_on: tuple[type[BaseException], ...] = (Exception,), dont: tuple = ()) -> JobDefinition:
    from jobqueue.base import BaseJob, NoPayload

    return JobDefinition(
        name="policy",
        job_class=BaseJob,
        description="",
        version="1",
        defaults=MappingProxyType(dict(CODE_DEFAULTS)),
        payload_model=NoPayload,
        settings_model=None,
        retry_on=retry_on,
        dont_retry_on=dont,
        unique=None,
        requires=(),
        defined_in="tests.test_decide",
    )


def config(**values: object) -> EffectiveConfig:
    return EffectiveConfig(**{"name": "policy", "backoff_base": 10.0, "backoff_jitter": 0.0, **values})


@pytest.mark.parametrize(
    ("error", "retry_on", "dont", "retryable", "after"),
    [
        (ValueError("x"), (Exception,), (), True, None),
        (PermanentError("x"), (Exception,), (), False, None),
        (RetryableError("x", after=7), (Upstream,), (), True, 7),  # retryable even if retry_on omits it
        (Upstream("x"), (Upstream,), (), True, None),
        (Refused("x"), (Upstream,), (), False, None),  # not in retry_on
        (Upstream("x"), (Exception,), (Upstream,), False, None),  # dont_retry_on wins
        (RetryableError("x"), (Exception,), (RetryableError,), False, None),
    ],
)
def test_classify(error: Exception, retry_on: tuple, dont: tuple, retryable: bool, after: float | None) -> None:
    assert classify(definition(retry_on, dont), error) == (retryable, after)


@pytest.mark.parametrize(
    ("outcome", "retryable", "retry_after", "attempt", "max_attempts", "status", "delay", "dead", "hook"),
    [
        (Outcome.SUCCEEDED, True, None, 1, 3, Status.SUCCEEDED, None, None, None),
        (Outcome.SKIPPED, True, None, 3, 3, Status.SKIPPED, None, None, None),
        (Outcome.CANCELLED, True, None, 1, 3, Status.CANCELLED, None, None, None),
        (Outcome.FAILED, True, None, 1, 3, Status.RETRYING, 10.0, None, "on_failure"),
        (Outcome.FAILED, True, None, 2, 3, Status.RETRYING, 20.0, None, "on_failure"),
        (Outcome.FAILED, True, None, 3, 3, Status.DEAD, None, DeadReason.ATTEMPTS_EXHAUSTED, "on_dead"),
        (Outcome.FAILED, False, None, 1, 3, Status.DEAD, None, DeadReason.PERMANENT_ERROR, "on_dead"),
        (Outcome.FAILED, True, 2.5, 1, 3, Status.RETRYING, 2.5, None, "on_failure"),  # the job's own delay
        (Outcome.FAILED, True, 9999.0, 3, 3, Status.DEAD, None, DeadReason.ATTEMPTS_EXHAUSTED, "on_dead"),
        (Outcome.TIMED_OUT, True, None, 1, 2, Status.RETRYING, 10.0, None, "on_failure"),
        (Outcome.TIMED_OUT, True, None, 2, 2, Status.DEAD, None, DeadReason.ATTEMPTS_EXHAUSTED, "on_dead"),
        (Outcome.CRASHED, True, None, 1, 1, Status.DEAD, None, DeadReason.ATTEMPTS_EXHAUSTED, "on_dead"),
        (Outcome.CRASHED, True, None, 1, 5, Status.RETRYING, 10.0, None, "on_failure"),
    ],
)
def test_decide(
    outcome: Outcome,
    retryable: bool,
    retry_after: float | None,
    attempt: int,
    max_attempts: int,
    status: Status,
    delay: float | None,
    dead: DeadReason | None,
    hook: str | None,
) -> None:
    report = AttemptReport(outcome=outcome, retryable=retryable, retry_after=retry_after)
    decision = decide(report, attempt, max_attempts, config(), NOW)
    assert decision.status == status
    assert decision.dead_reason == dead
    assert decision.hook == hook
    if delay is None:
        assert decision.run_after is None
    else:
        assert decision.run_after == NOW + timedelta(seconds=delay)


@pytest.mark.parametrize(("rng", "low", "high"), [(0.0, 90, 90), (0.5, 100, 100), (1.0, 110, 110)])
def test_decide_spreads_the_backoff_with_the_injected_random_source(rng: float, low: float, high: float) -> None:
    report = AttemptReport(outcome=Outcome.FAILED)
    decision = decide(report, 1, 3, config(backoff_base=100.0, backoff_jitter=0.1), NOW, rng=lambda: rng)
    assert decision.run_after is not None
    assert low <= (decision.run_after - NOW).total_seconds() <= high


def test_a_decision_is_frozen() -> None:
    decision = Decision(Outcome.SUCCEEDED, Status.SUCCEEDED)
    with pytest.raises(AttributeError):
        decision.status = Status.DEAD  # type: ignore[misc]


@pytest.mark.parametrize(
    ("report", "attempt", "status", "delay", "outcome", "given_back", "refunded"),
    [
        # Snoozed: in the history, not in the budget, even on the last attempt; no hook.
        (
            AttemptReport(outcome=Outcome.SNOOZED, snooze_for=30.0),
            3,
            Status.SCHEDULED,
            30.0,
            Outcome.SNOOZED,
            False,
            True,
        ),
        (AttemptReport(outcome=Outcome.SNOOZED, snooze_for=0.0), 1, Status.QUEUED, 0.0, Outcome.SNOOZED, False, True),
        # Rate limited: given back unrun, no row in the history, whatever the attempt number.
        (
            AttemptReport(outcome=Outcome.FAILED, rate_limited_after=60.0, finished_at=NOW),
            3,
            Status.SCHEDULED,
            60.0,
            None,
            True,
            False,
        ),
        (
            AttemptReport(outcome=Outcome.FAILED, rate_limited_after=0.0, finished_at=NOW),
            1,
            Status.QUEUED,
            0.0,
            None,
            True,
            False,
        ),
    ],
)
def test_decide_the_outcomes_that_spend_no_attempt(
    report: AttemptReport,
    attempt: int,
    status: Status,
    delay: float,
    outcome: Outcome | None,
    given_back: bool,
    refunded: bool,
) -> None:
    decision = decide(report, attempt, 3, config(), NOW)
    assert (decision.status, decision.outcome, decision.given_back, decision.refunded) == (
        status,
        outcome,
        given_back,
        refunded,
    )
    assert decision.run_after == NOW + timedelta(seconds=delay)
    assert decision.hook is None
    assert decision.dead_reason is None


def test_give_back_keeps_the_place_in_the_queue_unless_told_to_wait() -> None:
    assert give_back("why") == Decision(None, Status.QUEUED, None, given_back=True, note="why")
    later = NOW + timedelta(seconds=5)
    assert give_back(run_after=later, now=NOW).status == Status.SCHEDULED
