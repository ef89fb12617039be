"""The transitions of a claimed job: start, finish (retry / dead / done), release, reclaim.

Every transition is a conditional UPDATE on (id, status running, attempts, claimed_by): a
worker whose lease was taken over by another cluster finds it changed and writes nothing,
so one attempt is never recorded twice.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from jobqueue import inserts
from jobqueue.backoff import retry_delay
from jobqueue.claim import db_datetime, db_id
from jobqueue.conf import jobqueue_settings
from jobqueue.context import FollowUp
from jobqueue.models import FINISHED, Attempt, DeadLetter, DeadReason, Job, Outcome, RateLimitStart, Status
from jobqueue.options import EffectiveConfig

logger = logging.getLogger("jobqueue")
_RESULT_FIELD = Job._meta.get_field("result")

_FAILURES = (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.CRASHED)

# The error types the reclaimer writes on the attempts it closes; jobqueue_hook recognises
# a reclaimed attempt by them.
WORKER_LOST, WORKER_TIMED_OUT = "WorkerLost", "WorkerTimedOut"
# The built-in type (jobqueue/jobs.py) that runs the hooks of a reclaimed attempt.
HOOK_TYPE = "jobqueue_hook"


@dataclass
class Claim:
    """Identifies one claim of a job: the lease holder and the attempt number it counted."""

    job_id: str
    attempt: int
    cluster: str


@dataclass
class AttemptReport:
    """What happened in one attempt, as the runner or the reclaimer saw it."""

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
    follow_ups: list[FollowUp] = field(default_factory=list)
    progress: float | None = None
    batch_id: Any = None


@dataclass(frozen=True)
class Decision:
    status: Status
    run_after: datetime | None = None
    dead_reason: DeadReason | None = None


def decide(
    report: AttemptReport,
    attempt: int,
    max_attempts: int,
    config: EffectiveConfig,
    now: datetime,
    rng: Callable[[], float] | None = None,
) -> Decision:
    """The retry policy: the job's next status after this attempt."""
    if report.outcome == Outcome.SUCCEEDED:
        return Decision(Status.SUCCEEDED)
    if report.outcome == Outcome.SKIPPED:
        return Decision(Status.SKIPPED)
    if report.outcome == Outcome.CANCELLED:
        return Decision(Status.CANCELLED)
    if not report.retryable:
        return Decision(Status.DEAD, dead_reason=report.dead_reason)
    if attempt >= max_attempts:
        return Decision(Status.DEAD, dead_reason=DeadReason.ATTEMPTS_EXHAUSTED)
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
    return Decision(Status.RETRYING, run_after=now + timedelta(seconds=delay))


def start(
    claim: Claim, *, host: str, pid: int, timeout: int, now: datetime | None = None, rated: bool = False
) -> Job | None:
    """Mark the attempt as started and lease the job for its timeout; None if the claim was lost.

    For a rate-limited type the start also moves the job's entry in the rate window from
    its claim time to its real start, which is what the limit promises."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=timeout + int(jobqueue_settings.LEASE_GRACE))
    # One statement that both checks the claim and reads what the attempt needs.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Job._meta.db_table} SET started_at = %s, worker = %s, timeout = %s, lease_expires_at = %s "  # noqa: S608
            "WHERE id = %s AND status = %s AND attempts = %s AND claimed_by = %s "
            "RETURNING payload, max_attempts, job_type_id, progress, cancel_requested_at",
            [
                db_datetime(now),
                f"{host}:{pid}"[:128],
                timeout,
                db_datetime(lease),
                db_id(claim.job_id),
                Status.RUNNING.value,
                claim.attempt,
                claim.cluster,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    if rated:
        RateLimitStart.objects.filter(job_id=claim.job_id).update(at=now)
    payload, max_attempts, job_type_id, progress, cancel_requested = row
    job = Job(
        id=uuid.UUID(claim.job_id),
        job_type_id=job_type_id,
        payload=json.loads(payload) if isinstance(payload, str | bytes) else payload,
        status=Status.RUNNING,
        attempts=claim.attempt,
        max_attempts=max_attempts,
        started_at=now,
        timeout=timeout,
        lease_expires_at=lease,
        claimed_by=claim.cluster,
        progress=progress,
        cancel_requested_at=now if cancel_requested is not None else None,
    )
    job._state.adding = False
    return job


def renew_claims(cluster: str, now: datetime | None = None) -> int:
    """Extend the leases of this cluster's claimed jobs still waiting for a worker, so that a
    long wait in the local queue never passes for a lost cluster. Started jobs keep the
    lease their start gave them (timeout plus grace).

    Only for a bounded time after the claim: a claim lost between the claim's commit and a
    worker's start (the pusher killed while handing it over, a worker killed as it took it)
    is never started, and must not be kept alive for as long as the cluster lives. Past
    CLAIM_RENEW_FACTOR times the longest lease, it is left to expire and be reclaimed."""
    from jobqueue.typeconfig import type_states

    now = now or timezone.now()
    longest = max((int(s.config.timeout or 0) for s in type_states().values()), default=0)
    lease = max(longest, int(jobqueue_settings.DEFAULT_TIMEOUT)) + int(jobqueue_settings.LEASE_GRACE)
    oldest = now - timedelta(seconds=lease * float(jobqueue_settings.CLAIM_RENEW_FACTOR))
    return Job.objects.filter(
        status=Status.RUNNING, claimed_by=cluster, started_at__isnull=True, claimed_at__gt=oldest
    ).update(lease_expires_at=now + timedelta(seconds=lease))


def release(claim: Claim, *, run_after: datetime | None = None, note: str = "") -> bool:
    """Give a claimed job back without using its attempt (shutdown before start, rate limited)."""
    changes: dict[str, Any] = {
        "status": Status.QUEUED,
        "claimed_by": "",
        "worker": "",
        "lease_expires_at": None,
    }
    if run_after is not None:
        changes["run_after"] = run_after
        if run_after > timezone.now():
            changes["status"] = Status.SCHEDULED
    if note:
        changes["last_error"] = note
    # A job handed back never started: it must not count against its type's rate limit.
    RateLimitStart.objects.filter(job_id=claim.job_id).delete()
    return bool(
        Job.objects.filter(
            pk=claim.job_id, status=Status.RUNNING, attempts=claim.attempt, claimed_by=claim.cluster
        ).update(attempts=F("attempts") - 1, **changes)
    )


def finish(
    claim: Claim,
    job: Job,
    report: AttemptReport,
    config: EffectiveConfig,
    also: Callable[[Decision], object] | None = None,
) -> Decision | None:
    """Record the attempt and move the job to its next status, in one transaction.

    `also` is called with the decision inside that transaction (the reclaimer enqueues the
    job's hooks there). Returns the decision, or None when the claim was lost (another
    cluster reclaimed the job).
    """
    now = report.finished_at
    decision = decide(report, claim.attempt, job.max_attempts, config, now)
    error = _error_line(report)
    # Raw SQL like start(): the ORM would compile this UPDATE afresh for every attempt, a
    # large share of a worker's own cost per job. Only constants go into the text.
    sets = ["status = %s", "claimed_by = ''", "worker = ''", "lease_expires_at = NULL", "last_error = %s"]
    params: list[Any] = [decision.status.value, error]
    if report.progress is not None:
        sets.append("progress = %s")
        params.append(float(report.progress))
    if decision.status in FINISHED:
        sets.append("finished_at = %s")
        params.append(db_datetime(now))
    if decision.run_after is not None:
        sets.append("run_after = %s")
        params.append(db_datetime(decision.run_after))
    if report.result is not None:
        sets.append("result = %s")
        params.append(_RESULT_FIELD.get_db_prep_save(report.result, connection))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Job._meta.db_table} SET {', '.join(sets)} "  # noqa: S608 - constants only
                "WHERE id = %s AND status = %s AND attempts = %s AND claimed_by = %s",
                [*params, db_id(claim.job_id), Status.RUNNING.value, claim.attempt, claim.cluster],
            )
            updated = cursor.rowcount
        if not updated:
            logger.warning("job %s: lease lost before attempt %s was recorded", claim.job_id, claim.attempt)
            return None
        started = report.started_at
        inserts.insert(
            [
                Attempt(
                    job_id=claim.job_id,
                    number=claim.attempt,
                    cluster=claim.cluster,
                    host=report.host[:128],
                    pid=report.pid,
                    started_at=started,
                    finished_at=now,
                    duration_ms=int((now - started).total_seconds() * 1000) if started else None,
                    outcome=report.outcome,
                    error_type=report.error_type[:255],
                    error_message=_bounded(report.error_message, int(jobqueue_settings.ERROR_MAX_CHARS)),
                    traceback=_bounded(report.traceback, int(jobqueue_settings.TRACEBACK_MAX_CHARS)),
                    logs=report.logs,
                    batch_id=report.batch_id,
                )
            ]
        )
        if decision.status == Status.DEAD:
            DeadLetter.objects.create(
                job_id=claim.job_id,
                job_type_id=job.job_type_id,
                reason=decision.dead_reason or DeadReason.PERMANENT_ERROR,
                error_type=report.error_type[:255],
                error_message=_bounded(report.error_message, int(jobqueue_settings.ERROR_MAX_CHARS)),
                traceback=_bounded(report.traceback, int(jobqueue_settings.TRACEBACK_MAX_CHARS)),
                payload=job.payload,
                attempts=claim.attempt,
                created_at=now,
            )
        if decision.status == Status.SUCCEEDED and report.follow_ups:
            _enqueue_follow_ups(report.follow_ups, job, now)
        if also is not None:
            also(decision)
    return decision


def _enqueue_follow_ups(follow_ups: list[FollowUp], parent: Job, now: datetime) -> None:
    # One by one through enqueue_built, so that a follow-up whose unique key is held
    # resolves to the holder instead of failing the whole success.
    from jobqueue.services.jobs import build_job, enqueue_built

    for follow_up in follow_ups:
        options = {"created_by": f"job:{parent.pk}", **follow_up.options}
        enqueue_built(build_job(follow_up.definition, follow_up.payload, now=now, **options), follow_up.definition)


def _error_line(report: AttemptReport) -> str:
    if report.outcome not in _FAILURES:
        return ""
    text = f"{report.error_type}: {report.error_message}" if report.error_type else report.error_message
    return _bounded(text, int(jobqueue_settings.ERROR_MAX_CHARS))


def _bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n… [{len(text) - limit} characters cut] …\n" + text[-limit // 2 :]


def reclaim_lost(
    *,
    now: datetime | None = None,
    cluster: str = "",
    host: str = "",
    is_alive: Callable[[int], bool] | None = None,
    limit: int = 100,
    on_reclaim: Callable[[Job], object] | None = None,
) -> int:
    """Close the attempts of running jobs whose worker is gone, then retry or dead-letter them.

    Two ways a worker is known gone: its lease expired (any cluster may reclaim: the worker,
    its cluster or its host was lost), or, for this cluster's own jobs, its pid no longer
    exists (killed, or stopped by the timeout guard) - found within seconds.
    """
    from jobqueue.typeconfig import type_states

    now = now or timezone.now()
    states = {state.type_id: state for state in type_states().values()}
    candidates = list(
        Job.objects.filter(status=Status.RUNNING, lease_expires_at__lt=now).order_by("lease_expires_at")[:limit]
    )
    if cluster and is_alive is not None:
        for job in Job.objects.filter(status=Status.RUNNING, claimed_by=cluster).exclude(worker=""):
            worker_host, _, pid = job.worker.rpartition(":")
            if worker_host == host and pid.isdigit() and not is_alive(int(pid)):
                candidates.append(job)
    reclaimed = 0
    for job in {j.pk: j for j in candidates}.values():
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
        state = states.get(job.job_type_id)
        if state is None:
            report.retryable = False
            report.dead_reason = DeadReason.UNREGISTERED_TYPE
            from jobqueue.options import CODE_DEFAULTS, EffectiveConfig

            config = EffectiveConfig(name="", values=dict(CODE_DEFAULTS), sources={})
        else:
            config = state.config
        hooks = _enqueue_hook(job) if state is not None and state.definition.has_failure_hooks else None
        if finish(Claim(str(job.pk), job.attempts, job.claimed_by), job, report, config, also=hooks) is not None:
            reclaimed += 1
            if on_reclaim is not None:
                on_reclaim(job)
            logger.warning("job %s reclaimed: %s", job.pk, message)
    return reclaimed


def _enqueue_hook(job: Job) -> Callable[[Decision], object]:
    """For a reclaimed attempt: enqueue the built-in job that runs the type's `on_failure` or
    `on_dead` in a worker (never in the pusher, which reclaims), committed with the attempt."""

    def enqueue_hook(decision: Decision) -> object:
        from jobqueue.services.jobs import build_job, enqueue_built

        payload = {"job_id": str(job.pk), "attempt": job.attempts}
        hook = build_job(HOOK_TYPE, payload, priority=job.priority, created_by=f"job:{job.pk}")
        return enqueue_built(hook)

    return enqueue_hook
