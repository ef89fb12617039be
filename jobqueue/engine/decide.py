"""The policy: classify what an attempt raised, and decide ONCE what becomes of its job.

`decide()` turns an attempt's report into a `Decision` (next status, when to run again, why
dead, which hook applies, whether the attempt is given back). The recording and the hooks
both read that one decision; nothing later works out "will it retry" again. Every way an
attempt ends is a `Decision`, including the ones that spend no attempt: a job given back
unrun (`give_back()`: shutdown, preemption, a claim no worker started) and a job that asked
to wait (rate limited, snoozed). `transitions.record()` writes them all, in one group commit.

To add an outcome: its exception, the step that settles it (`steps.settle` / `conclude`),
and its branch here.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from jobqueue.config.options import EffectiveConfig
from jobqueue.engine.backoff import retry_delay
from jobqueue.exceptions import PermanentError, RetryableError
from jobqueue.models import DeadReason, Outcome, Status

if TYPE_CHECKING:
    from jobqueue.base import BaseJob
    from jobqueue.context import FollowUp, JobContext
    from jobqueue.engine.units import Claim, JobSnapshot
    from jobqueue.registry import JobDefinition

FAILURES = (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.CRASHED)


@dataclass
class AttemptReport:
    """What happened in one attempt, as the pipeline or the reclaimer saw it."""

    outcome: Outcome
    started_at: datetime | None = None
    finished_at: datetime = field(default_factory=timezone.now)
    host: str = ""
    pid: int | None = None
    error_type: str = ""
    error_message: str = ""
    traceback: str = ""
    logs: list[dict[str, Any]] = field(default_factory=list)
    result: Any = None
    retryable: bool = True
    dead_reason: DeadReason = DeadReason.PERMANENT_ERROR
    retry_after: float | None = None
    rate_limited_after: float | None = None
    snooze_for: float | None = None
    follow_ups: list[FollowUp] = field(default_factory=list)
    progress: float | None = None
    batch_id: Any = None
    error: BaseException | None = field(default=None, repr=False)

    def fail(self, exc: BaseException, definition: JobDefinition | None = None) -> None:
        """Record `exc` as this attempt's error, classified for the retry policy."""
        self.error = exc
        self.error_type = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
        self.error_message = str(exc)
        self.traceback = "".join(traceback.format_exception(exc))
        if definition is not None and isinstance(exc, Exception):
            self.retryable, self.retry_after = classify(definition, exc)


@dataclass(frozen=True)
class Decision:
    """The one answer about an attempt: the job's next status and what follows from it.

    `outcome` is the attempt's row in the history; None for an attempt given back (`given_back`),
    which leaves no row: its job goes back to waiting with its attempt count lowered again, as
    if it had never been claimed. `refunded` keeps the attempt in the history but not in the
    budget: the job may make one more attempt (a snooze, as Oban counts it)."""

    outcome: Outcome | None
    status: Status
    run_after: datetime | None = None
    dead_reason: DeadReason | None = None
    given_back: bool = False
    refunded: bool = False
    note: str = ""  # for a job given back: why, kept as its last_error (empty keeps the old one)

    @property
    def hook(self) -> str | None:
        """The failure hook this decision calls for: `on_failure` when the job will be
        retried after a failed attempt, `on_dead` when it gave up, else none."""
        if self.outcome not in FAILURES:
            return None
        if self.status == Status.RETRYING:
            return "on_failure"
        if self.status == Status.DEAD:
            return "on_dead"
        return None


def give_back(note: str = "", run_after: datetime | None = None, now: datetime | None = None) -> Decision:
    """A claimed job returned unrun, its attempt unspent: `queued` (its place in the queue
    kept), or `scheduled` when it must wait until `run_after`."""
    waits = run_after is not None and run_after > (now or timezone.now())
    return Decision(None, Status.SCHEDULED if waits else Status.QUEUED, run_after, given_back=True, note=note)


@dataclass(frozen=True)
class JobRun:
    """The job instance and context an attempt ran with: what its hooks are called with."""

    instance: BaseJob
    ctx: JobContext


@dataclass
class DecidedAttempt:
    """One decided attempt waiting to be recorded.

    `report` and `snapshot` are there for an attempt that started (they make its history row);
    a claim given back before its job started has neither. `run` is what the hooks need when
    they run in this worker; `hook_job` asks `record()` for a `jobqueue_hook` job instead (the
    reclaimer's attempts, whose worker is gone)."""

    claim: Claim
    decision: Decision
    report: AttemptReport | None = None
    snapshot: JobSnapshot | None = None
    run: JobRun | None = None
    hook_job: bool = False

    @classmethod
    def of(cls, snapshot: JobSnapshot, report: AttemptReport, decision: Decision, **more: Any) -> DecidedAttempt:
        return cls(snapshot.claim, decision, report, snapshot, **more)

    @property
    def job_id(self) -> str:
        return self.claim.job_id


def classify(definition: JobDefinition, exc: Exception) -> tuple[bool, float | None]:
    """(retryable, delay override) for an exception raised by a job of `definition`."""
    if isinstance(exc, (PermanentError, *definition.dont_retry_on)):
        return False, None
    if isinstance(exc, RetryableError):
        return True, exc.after
    return isinstance(exc, definition.retry_on), None


def decide(
    report: AttemptReport,
    attempt: int,
    max_attempts: int,
    config: EffectiveConfig,
    now: datetime,
    rng: Callable[[], float] | None = None,
) -> Decision:
    """The retry policy: the job's next status after this attempt."""
    outcome = report.outcome
    if report.rate_limited_after is not None:
        # Not a failure: the attempt is given back and the job waits out the upstream's limit.
        after = report.finished_at + timedelta(seconds=max(0.0, report.rate_limited_after))
        return give_back(f"rate limited: {report.error_message}", after, now)
    if outcome == Outcome.SNOOZED:
        delay = max(0.0, report.snooze_for or 0.0)
        status = Status.SCHEDULED if delay > 0 else Status.QUEUED
        return Decision(outcome, status, now + timedelta(seconds=delay), refunded=True)
    if outcome == Outcome.SUCCEEDED:
        return Decision(outcome, Status.SUCCEEDED)
    if outcome == Outcome.SKIPPED:
        return Decision(outcome, Status.SKIPPED)
    if outcome == Outcome.CANCELLED:
        return Decision(outcome, Status.CANCELLED)
    if not report.retryable:
        return Decision(outcome, Status.DEAD, dead_reason=report.dead_reason)
    if attempt >= max_attempts:
        return Decision(outcome, Status.DEAD, dead_reason=DeadReason.ATTEMPTS_EXHAUSTED)
    if report.retry_after is not None:
        delay = max(0.0, float(report.retry_after))
    else:
        kwargs: dict[str, Any] = {"rng": rng} if rng else {}
        delay = retry_delay(
            attempt,
            base=config.backoff_base,
            factor=config.backoff_factor,
            maximum=config.backoff_max,
            jitter=config.backoff_jitter,
            **kwargs,
        )
    return Decision(outcome, Status.RETRYING, run_after=now + timedelta(seconds=delay))
