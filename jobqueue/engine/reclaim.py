"""Reclaiming attempts whose worker is gone: close them as crashed or timed out, and decide.

Two ways a worker is known gone: its lease expired (any cluster may reclaim: the worker, its
cluster or its host was lost), or, for this cluster's own jobs, its pid no longer exists
(killed, or stopped by the timeout guard), found within seconds. For a dead worker of this
cluster, what it was running tells the job that killed it (crashed, its attempt spent) from
the jobs of its unit it never reached (handed back, attempt unspent).

A reclaimed attempt goes through the same `decide()` and the same guarded `record()` as any
other, and so does a job handed back unrun (one group commit for both); the hooks of a type that has them run in a worker, through a `jobqueue_hook` job
enqueued in the same transaction (never here, in the pusher).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone

from jobqueue.config.effective import TypeState, type_states
from jobqueue.config.options import EffectiveConfig
from jobqueue.engine import inflight, transitions
from jobqueue.engine.decide import AttemptReport, DecidedAttempt, decide, give_back
from jobqueue.engine.enqueue import build_job, enqueue_built
from jobqueue.engine.units import Claim, JobSnapshot
from jobqueue.models import DeadReason, Job, Outcome, Status

logger = logging.getLogger("jobqueue")

# The error types written on the attempts closed here; jobqueue_hook recognises them.
WORKER_LOST, WORKER_TIMED_OUT = "WorkerLost", "WorkerTimedOut"
# The built-in type (jobqueue/jobs.py) that runs the hooks of a reclaimed attempt.
HOOK_TYPE = "jobqueue_hook"


def reclaim_lost(
    *,
    now: datetime | None = None,
    cluster: str = "",
    host: str = "",
    is_alive: Callable[[int], bool] | None = None,
    limit: int = 100,
) -> list[Job]:
    """Close the attempts of running jobs whose worker is gone; return the jobs reclaimed."""
    now = now or timezone.now()
    candidates = {
        job.pk: job
        for job in Job.objects.filter(status=Status.RUNNING, lease_expires_at__lt=now).order_by("lease_expires_at")[
            :limit
        ]
    }
    given_back: list[Job] = []
    if cluster and is_alive is not None:
        seen: dict[int, tuple[int, str | None]] = {}
        for job in Job.objects.filter(status=Status.RUNNING, claimed_by=cluster).exclude(worker=""):
            worker_host, _, pid = job.worker.rpartition(":")
            if worker_host != host or not pid.isdigit() or is_alive(int(pid)):
                continue
            if int(pid) not in seen:
                seen[int(pid)] = inflight.running_in(int(pid))
            mode, current = seen[int(pid)]
            if mode == inflight.SEQUENTIAL and current is not None and str(job.pk) != current:
                given_back.append(job)  # its worker died before reaching it
            else:
                candidates[job.pk] = job
    # A claim whose lease expired before any worker started it (its cluster was lost, or
    # the unit never reached a worker): the job never ran, so its attempt goes back unspent.
    never_started = [job for job in candidates.values() if job.started_at is None]
    returned = [(job, "handed back: claimed, but no worker started it") for job in never_started]
    returned += [(job, "handed back: its worker died before reaching it") for job in given_back]
    for job, _ in returned:
        candidates.pop(job.pk, None)
    states = {state.type_id: state for state in type_states().values()}
    entries = [DecidedAttempt(_claim(job), give_back(note)) for job, note in returned]
    entries += [_entry(job, now, states.get(job.job_type_id)) for job in candidates.values()]
    recorded = transitions.record(entries, also=_enqueue_hook)
    by_id = {str(job.pk): job for job in candidates.values()}
    for entry in recorded:
        if entry.decision.given_back:
            logger.warning("job %s %s", entry.job_id, entry.decision.note)
        else:
            assert entry.report is not None  # noqa: S101 - _entry always has one
            logger.warning("job %s reclaimed: %s", entry.job_id, entry.report.error_message)
    closed = [by_id[entry.job_id] for entry in recorded if not entry.decision.given_back]
    # The jobs handed back are answered whether or not their claims still held, as before.
    return closed + given_back + never_started


def _claim(job: Job) -> Claim:
    return JobSnapshot.from_job(job).claim


def _entry(job: Job, now: datetime, state: TypeState | None) -> DecidedAttempt:
    deadline = job.started_at + timedelta(seconds=job.timeout) if job.started_at and job.timeout else None
    timed_out = deadline is not None and now >= deadline
    if job.lease_expires_at and job.lease_expires_at < now and not timed_out:
        message = "lease expired without a result: the worker, its cluster or its host was lost"
    elif timed_out:
        message = f"worker stopped after the {job.timeout} s timeout without reporting"
    else:
        message = "worker process died during the attempt"
    worker_host, _, pid = job.worker.rpartition(":")
    report = AttemptReport(
        outcome=Outcome.TIMED_OUT if timed_out else Outcome.CRASHED,
        started_at=job.started_at,
        finished_at=now,
        host=worker_host,
        pid=int(pid) if pid.isdigit() else None,
        error_type=WORKER_TIMED_OUT if timed_out else WORKER_LOST,
        error_message=message,
    )
    if state is None:
        report.retryable, report.dead_reason = False, DeadReason.UNREGISTERED_TYPE
        config = EffectiveConfig(name="")
    else:
        config = state.config
    snapshot = JobSnapshot.from_job(job)
    decision = decide(report, snapshot.attempt, snapshot.max_attempts, config, now)
    wants_hook = state is not None and state.definition.has_failure_hooks
    return DecidedAttempt.of(snapshot, report, decision, hook_job=wants_hook)


def _enqueue_hook(entry: DecidedAttempt) -> None:
    """For a reclaimed attempt of a type with hooks: the built-in job that runs its
    `on_failure` or `on_dead` and `cleanup` in a worker, committed with the attempt."""
    if not entry.hook_job or entry.snapshot is None:
        return
    payload = {"job_id": entry.job_id, "attempt": entry.claim.attempt}
    hook = build_job(HOOK_TYPE, payload, priority=entry.snapshot.priority, created_by=f"job:{entry.job_id}")
    enqueue_built(hook)
