"""Operator actions of the console: pause and resume a job type, and re-queue or discard the dead
letters of a failure group. Each is audited on the job type (and each dead letter on its own)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from jobqueue.exceptions import InvalidStateError, JobQueueError, PayloadValidationError
from jobqueue.models import DeadLetter, JobType
from jobqueue.services.audit import Actor, record
from jobqueue.services.operations import discard_dead_letter, requeue_dead_letter
from jobqueue.services.types import update_job_type


@dataclass
class GroupOutcome:
    """How a group action went: how many dead letters were acted on, and why others were refused."""

    done: int = 0
    refused: list[str] = field(default_factory=list)


def _require(reason: str, action: str) -> str:
    if not reason or not reason.strip():
        raise InvalidStateError(f"a reason is required to {action}")
    return reason.strip()


def pause(job_type: JobType, *, by: Actor, reason: str) -> JobType:
    """Stop starting jobs of a type (waiting jobs wait; running ones finish). A reason is required;
    ValidationError when the enabled flag is pinned by an environment variable."""
    reason = _require(reason, "pause a job type")
    update_job_type(job_type, {"enabled": False})
    record(by, job_type, "pause", reason, "paused")
    return job_type


def resume(job_type: JobType, *, by: Actor, reason: str) -> JobType:
    """Start running a paused type's jobs again (the record says enabled, whatever the code default)."""
    reason = _require(reason, "resume a job type")
    update_job_type(job_type, {"enabled": True})
    record(by, job_type, "resume", reason, "resumed")
    return job_type


def requeue_group(
    dead_letters: Iterable[DeadLetter], *, by: Actor, reason: str, job_type: JobType, label: str
) -> GroupOutcome:
    """Re-queue each dead letter with its stored payload; one refusal does not stop the others."""
    outcome = GroupOutcome()
    for dead in dead_letters:
        try:
            requeue_dead_letter(dead, by=by, reason=reason)
            outcome.done += 1
        except (InvalidStateError, PayloadValidationError, ValidationError, JobQueueError) as exc:
            outcome.refused.append(f"{dead.pk}: {exc}")
    record(by, job_type, "requeue group", reason, f"{outcome.done} re-queued, {len(outcome.refused)} refused: {label}")
    return outcome


def discard_group(
    dead_letters: Iterable[DeadLetter], *, by: Actor, reason: str, job_type: JobType, label: str
) -> GroupOutcome:
    """Discard each dead letter of a group, with a required reason."""
    reason = _require(reason, "discard dead letters")
    outcome = GroupOutcome()
    for dead in dead_letters:
        try:
            discard_dead_letter(dead, by=by, reason=reason)
            outcome.done += 1
        except (InvalidStateError, JobQueueError) as exc:
            outcome.refused.append(f"{dead.pk}: {exc}")
    record(by, job_type, "discard group", reason, f"{outcome.done} discarded, {len(outcome.refused)} refused: {label}")
    return outcome
