"""What flows from the claim to a worker: a `Unit` of claimed jobs, and each job's frozen snapshot.

Unit sizing lives here, whole: how a type's jobs run (`mode_of`), how many one unit holds
(`unit_size`), how long an async unit tops up (`topup_window`), and how long a unit may take
(`Unit.budget`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from jobqueue.config.settings import jobqueue_settings
from jobqueue.engine import inflight

if TYPE_CHECKING:
    from jobqueue.config.effective import TypeState
    from jobqueue.models import Job


class Mode(enum.StrEnum):
    """How a worker runs a unit's jobs."""

    SYNC = "sync"  # one after another (a unit of one, or a chunk of short jobs)
    ASYNC = "async"  # all at once on one event loop
    BATCH = "batch"  # all in one call of execute_batch


def mode_of(state: TypeState) -> Mode:
    if state.definition.is_batch:
        return Mode.BATCH
    if state.definition.is_async:
        return Mode.ASYNC
    return Mode.SYNC


def is_rated(state: TypeState) -> bool:
    """Whether a type's starts are counted in a rate window: it has a rate limit, or a
    partitioned type has one per partition value."""
    return bool(state.config.rate_limit or (state.definition.partition and state.config.partition_rate_limit))


def unit_size(state: TypeState) -> int:
    """How many jobs of a type one unit holds: its batch size; its async_concurrency (else the
    ASYNC_CONCURRENCY setting); or for sync jobs as many as fit CHUNK_BUDGET_MS by their recent
    time per job (one with none). A rate-limited sync type runs one job per unit: the jobs of a
    chunk start one after another, later than the start the rate window records for them."""
    if state.definition.is_batch:
        return max(1, state.config.batch_size)
    if state.definition.is_async:
        return state.config.async_concurrency or jobqueue_settings.ASYNC_CONCURRENCY
    per_job = inflight.seconds_per_job(state.definition.name)
    if per_job <= 0.0 or is_rated(state):
        return 1
    budget = jobqueue_settings.CHUNK_BUDGET_MS / 1000
    return max(1, min(jobqueue_settings.CHUNK_MAX_JOBS, math.floor(budget / per_job)))


def topup_window(timeout: int) -> float:
    """Seconds from an async unit's start during which its worker tops it up with more jobs of
    its type (`engine.topup`): the ASYNC_TOPUP_SECONDS setting, at most the type's timeout."""
    return max(0.0, min(float(timeout), jobqueue_settings.ASYNC_TOPUP_SECONDS))


@dataclass(frozen=True)
class Claim:
    """One claimed attempt of a job: the guard every later write of that attempt carries."""

    job_id: str
    attempt: int
    cluster: str


@dataclass(frozen=True)
class Unit:
    """Jobs of one type claimed together and handed to one worker.

    `jobs` are (job id, attempt) pairs in claim order (priority, then age). `timeout` is each
    job's own timeout in seconds; `budget` bounds the whole unit (what django-q2's guard
    enforces as a last resort). `priority` is its first (highest) job's, as claimed."""

    type_name: str
    mode: Mode
    jobs: tuple[tuple[str, int], ...]
    cluster: str
    timeout: int
    priority: int = 0

    @property
    def claims(self) -> list[Claim]:
        return [Claim(job_id, attempt, self.cluster) for job_id, attempt in self.jobs]

    @property
    def budget(self) -> int:
        """Seconds the unit may take at most: sequential jobs add up, concurrent ones do not; an
        async unit's top-ups (`engine.topup`) start jobs for up to `topup_window()` seconds,
        each with its own whole timeout."""
        if self.mode == Mode.SYNC:
            return self.timeout * len(self.jobs)
        if self.mode == Mode.ASYNC:
            return self.timeout + math.ceil(topup_window(self.timeout))
        return self.timeout

    def as_args(self) -> tuple[Any, ...]:
        """Plain values for the django-q2 package (never user data)."""
        return (self.type_name, self.mode.value, self.jobs, self.cluster, self.timeout, self.priority)

    @classmethod
    def from_args(cls, type_name: str, mode: str, jobs: Any, cluster: str, timeout: int, priority: int = 0) -> Unit:
        jobs = tuple((str(j), int(a)) for j, a in jobs)
        return cls(type_name, Mode(mode), jobs, cluster, int(timeout), int(priority))


@dataclass(frozen=True)
class JobSnapshot:
    """A started job as its worker sees it: read once at start, never a half-filled model."""

    id: str
    type_id: int
    attempt: int
    max_attempts: int
    payload: Any
    priority: int
    progress: float | None
    cancel_requested: bool
    started_at: datetime
    cluster: str
    # The W3C trace context stored at enqueue (jobqueue.tracing), or None.
    trace_context: dict[str, str] | None = None

    @property
    def claim(self) -> Claim:
        return Claim(self.id, self.attempt, self.cluster)

    @classmethod
    def from_job(cls, job: Job, *, started_at: datetime | None = None) -> JobSnapshot:
        """A job's row as its current attempt sees it (`started_at`: when that attempt
        started; by default the row's own start, else its claim)."""
        return cls(
            id=str(job.pk),
            type_id=job.job_type_id,
            attempt=job.attempts,
            max_attempts=job.max_attempts,
            payload=job.payload,
            priority=job.priority,
            progress=job.progress,
            cancel_requested=job.cancel_requested_at is not None,
            started_at=started_at or job.started_at or job.claimed_at or timezone.now(),
            cluster=job.claimed_by,
            trace_context=job.trace_context,
        )
