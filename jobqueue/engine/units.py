"""What flows from the claim to a worker: a `Unit` of claimed jobs, and each job's frozen snapshot."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class Mode(enum.StrEnum):
    """How a worker runs a unit's jobs."""

    SYNC = "sync"  # one after another (a unit of one, or a chunk of short jobs)
    ASYNC = "async"  # all at once on one event loop
    BATCH = "batch"  # all in one call of execute_batch


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
        """Seconds the unit may take at most: sequential jobs add up, concurrent ones do not."""
        if self.mode == Mode.SYNC:
            return self.timeout * len(self.jobs)
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

    @property
    def claim(self) -> Claim:
        return Claim(self.id, self.attempt, self.cluster)
