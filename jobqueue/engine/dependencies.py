"""Jobs that wait for other jobs: the `blocked` status, its release, and its cancellation.

A job enqueued `after` others is inserted `blocked` (unless they have all ended already) with
one `Dependency` row per job it waits for. `resolve()` runs inside the transaction that
records a job's end (`transitions.record()`, an operator's cancel), so a dependent becomes
ready in the same commit as its last dependency's success: no polling. A dependency that
ended dead, cancelled or skipped cancels its dependents, naming it, unless the edge says
`ignore_failure`; a cancelled dependent resolves its own dependents in turn.

Races: the enqueue locks the rows of the jobs it waits for (`FOR UPDATE`; SQLite's write
lock) while it reads their status and inserts its edges, and the recording of a job's end
updates that same row first. Whichever commits second sees the other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from jobqueue.engine import sql, turns
from jobqueue.exceptions import JobQueueError
from jobqueue.models import Dependency, Job, Status

# A dependent cancelled because of a dependency says so in its last_error, with this prefix;
# re-running that dependency re-arms exactly those.
CANCELLED_BY_DEPENDENCY = "dependency "
_FAILED: tuple[str, ...] = (Status.DEAD, Status.CANCELLED, Status.SKIPPED)


class UnknownDependencyError(JobQueueError, ValueError):
    """A job given in `after` does not exist."""


@dataclass(frozen=True)
class After:
    """One edge of `enqueue(after=[...])`: the job to wait for, and whether its failure (dead,
    cancelled, skipped) still lets the dependent run (`ignore_failure`) or cancels it."""

    job: Job | str
    ignore_failure: bool = False

    @property
    def job_id(self) -> str:
        return str(self.job.pk if isinstance(self.job, Job) else self.job)


def edges(after: Iterable[After | Job | str]) -> list[After]:
    """`after` as edges, one per job (the strictest policy wins for a job named twice)."""
    found: dict[str, After] = {}
    for item in after:
        edge = item if isinstance(item, After) else After(item)
        known = found.get(edge.job_id)
        if known is None or known.ignore_failure:
            found[edge.job_id] = edge
    return list(found.values())


def edges_of(job: Job) -> list[After]:
    """The edges a job was enqueued with: a re-run of it waits for the same jobs."""
    rows = Dependency.objects.filter(job_id=job.pk).values_list("on_id", "ignore_failure")
    return [After(str(on_id), ignore) for on_id, ignore in rows]


def initial_status(job: Job, after: Sequence[After]) -> tuple[str, str]:
    """The status a new job `after` these starts in, reading (and locking) their rows: blocked
    while one has not ended; cancelled if one failed under the cancel policy; else ready."""
    locked = Job.objects.select_for_update().filter(pk__in=[e.job_id for e in after]).values_list("pk", "status")
    statuses = {str(pk): str(status) for pk, status in locked}
    missing = [e.job_id for e in after if e.job_id not in statuses]
    if missing:
        raise UnknownDependencyError(f"no job {', '.join(missing)} to wait for: pass jobs enqueued before this one")
    failed = _first_failure(after, statuses)
    if failed:
        return Status.CANCELLED, failed
    if any(statuses[e.job_id] not in (Status.SUCCEEDED, *_FAILED) for e in after):
        return Status.BLOCKED, ""
    return job.status, ""


def _first_failure(after: Sequence[After], statuses: dict[str, str]) -> str:
    """The cancel reason a failed dependency gives, or "" when none failed under the cancel policy."""
    for edge in after:
        status = statuses[edge.job_id]
        if status in _FAILED and not edge.ignore_failure:
            return f"{CANCELLED_BY_DEPENDENCY}{edge.job_id} ended {status}"
    return ""


def attach(job: Job, after: Sequence[After]) -> None:
    """Insert the edges of an inserted job."""
    Dependency.objects.bulk_create(
        [Dependency(job_id=job.pk, on_id=e.job_id, ignore_failure=e.ignore_failure) for e in after]
    )


def resolve(ended: Sequence[str], now: datetime | None = None) -> list[str]:
    """Release or cancel the blocked dependents of jobs that just ended; returns the ids made
    ready. Runs in the transaction that records the ends."""
    if not ended or not sql.rows("any_dependent", sql.job_ids(ended), ids=len(ended)):
        return []  # nothing waits for these jobs (one indexed probe, no joins)
    now = now or timezone.now()
    ready: list[str] = []
    while ended:
        # Only the jobs that just ended can newly fail a dependent or be its last dependency.
        rows = Dependency.objects.filter(on_id__in=list(ended), job__status=Status.BLOCKED).values_list(
            "job_id", "on_id", "on__status", "ignore_failure", "on__job_type__name"
        )
        failures: dict[str, str] = {}
        waiting: set[str] = set()
        for dependent, on_id, status, ignore, type_name in rows:
            waiting.add(str(dependent))
            if status in _FAILED and not ignore:
                failures.setdefault(str(dependent), f"{CANCELLED_BY_DEPENDENCY}{on_id} ({type_name}) ended {status}")
        cancelled = [job_id for job_id, reason in failures.items() if _cancel(job_id, reason, now)]
        candidates = sorted(waiting - set(failures))
        # Lock the dependents (in id order: no deadlocks) before counting what they still wait
        # for. Two transactions recording a chord's last two dependencies at once would each
        # see the other's success uncommitted, and neither release the chord; with the lock
        # the second waits for the first's commit, and its count (a new statement, under READ
        # COMMITTED) sees it. SQLite's write lock already orders them.
        list(Job.objects.select_for_update().filter(pk__in=candidates).order_by("pk").values_list("pk", flat=True))
        for job_id in candidates:
            # Is any dependency of this job still to end? Asked newest edge first: a chord's
            # dependencies end in about the order they were made, so the first edge read is
            # nearly always one still to end, where the oldest first would walk past every one
            # already ended at each commit (quadratic over a 10,000-job fan-in).
            pending = Dependency.objects.filter(job_id=job_id).exclude(on__status__in=[Status.SUCCEEDED, *_FAILED])
            if not pending.order_by("-id").values_list("id", flat=True)[:1]:
                ready.append(job_id)
        ended = cancelled
    if ready:
        # A dependent enqueued with a later run_after stays scheduled until then.
        blocked = Job.objects.filter(pk__in=ready, status=Status.BLOCKED)
        blocked.filter(run_after__gt=now).update(status=Status.SCHEDULED)
        blocked.update(status=Status.QUEUED)
    return ready


def _cancel(job_id: str, reason: str, now: datetime) -> bool:
    return bool(
        Job.objects.filter(pk=job_id, status=Status.BLOCKED).update(
            status=Status.CANCELLED, finished_at=now, last_error=reason
        )
    )


def rearm(old_id: str, new_id: str) -> int:
    """`new_id` re-runs `old_id`: the dependents `old_id` cancelled wait for `new_id` instead,
    blocked again, and so do the dependents they cancelled in turn. Returns how many."""
    rearmed = 0
    pairs = [(str(old_id), str(new_id))]
    while pairs:
        following: list[tuple[str, str]] = []
        for was, now_on in pairs:
            reason = f"{CANCELLED_BY_DEPENDENCY}{was} "
            edges = Dependency.objects.filter(
                on_id=uuid.UUID(was), job__status=Status.CANCELLED, job__last_error__startswith=reason
            )
            ids = [str(j) for j in edges.values_list("job_id", flat=True)]
            if not ids:
                continue
            if was != now_on:
                edges.update(on_id=uuid.UUID(now_on))
            rearmed += Job.objects.filter(pk__in=ids).update(status=Status.BLOCKED, finished_at=None, last_error="")
            # Back from finished: their partition values may have lost their turns meanwhile.
            turns.fill_jobs(Job.objects.filter(pk__in=ids).only("job_type_id", "partition_key"))
            following += [(j, j) for j in ids]
        pairs = following
    return rearmed
