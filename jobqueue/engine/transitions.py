"""The worker-side transitions of claimed jobs: start a unit, record decisions (in groups),
and the lease bookkeeping of claims. Every write is guarded by the claim.

`record()` is the one writer of an attempt's end, whatever it was: finished, retrying, dead,
snoozed, or given back unrun (see `decide.Decision`)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone

from jobqueue.config.settings import jobqueue_settings
from jobqueue.engine import dependencies, inserts, ratewindow, sql
from jobqueue.engine.decide import FAILURES, AttemptReport, DecidedAttempt, give_back
from jobqueue.engine.enqueue import build_job, enqueue_built
from jobqueue.engine.lease import lease_until
from jobqueue.engine.units import Claim, JobSnapshot
from jobqueue.engine.wakeup import notify
from jobqueue.models import FINISHED, Attempt, DeadLetter, DeadReason, Job, Status

logger = logging.getLogger("jobqueue")
T = TypeVar("T")
_RESULT_FIELD = Job._meta.get_field("result")


def start_unit(claims: Sequence[Claim], *, worker: str, timeout: int, rated: bool = False) -> list[JobSnapshot]:
    """Mark a unit's attempts as started and lease them, in one write; the snapshots of the
    jobs whose claims still hold, in claim order (a lost claim is left out)."""
    if not claims:
        return []
    now = timezone.now()
    params: list[Any] = [sql.when(now), worker[:128], timeout, sql.when(lease_until(now, timeout)), claims[0].cluster]
    for claim, job_id in zip(claims, sql.job_ids(c.job_id for c in claims), strict=True):
        params += [job_id, claim.attempt]
    found = {sql.read_id(row[0]): row for row in sql.rows("start_unit", params, jobs=len(claims)) if row[1] is not None}
    snapshots = []
    for claim in claims:
        row = found.get(claim.job_id)
        if row is None or int(row[1]) != claim.attempt:
            continue
        _, attempt, payload, max_attempts, progress, cancel_requested, priority, type_id, trace_context = row
        snapshots.append(
            JobSnapshot(
                id=claim.job_id,
                type_id=int(type_id),
                attempt=int(attempt),
                max_attempts=int(max_attempts),
                payload=_json(payload),
                priority=int(priority),
                progress=progress,
                cancel_requested=cancel_requested is not None,
                started_at=now,
                cluster=claim.cluster,
                trace_context=_json(trace_context),
            )
        )
    if rated and snapshots:
        # The rate window counts the starts of the jobs' code: stamped after the start is
        # written (which may wait on locks), the last write before the code runs.
        ratewindow.mark_started([s.id for s in snapshots])
    return snapshots


def _json(value: Any) -> Any:
    """A JSON column as read by a raw cursor: decoded by the driver, or still text (SQLite, MySQL)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def extend(claims: Sequence[Claim], *, worker: str, timeout: int) -> None:
    """Keep the leases of a unit's jobs not yet recorded while the unit still runs."""
    if claims:
        lease = sql.when(lease_until(timezone.now(), timeout))
        ids = sql.job_ids(c.job_id for c in claims)
        sql.run("extend_unit", [lease, claims[0].cluster, worker[:128], *ids], ids=len(ids))


def release(claim: Claim, *, run_after: datetime | None = None, note: str = "") -> bool:
    """Give one claimed job back without using its attempt (recorded as any other decision)."""
    return bool(record([DecidedAttempt(claim, give_back(note, run_after))]))


def renew_held(cluster: str, held: Sequence[str]) -> set[str]:
    """Renew, for LEASE_GRACE, the leases of the claims this cluster holds unstarted (the
    Reclaimer does at each turn); return those still unstarted."""
    if not held:
        return set()
    lease = sql.when(lease_until(timezone.now(), 0))
    found = sql.rows("renew_held", [lease, cluster, *sql.job_ids(held)], ids=len(held))
    return {sql.read_id(row[0]) for row in found}


def release_unheld(cluster: str, held: Sequence[str], older_than: datetime) -> list[str]:
    """Hand back claims the database credits to this cluster that it does not hold."""
    params = [Status.QUEUED.value, None, None, cluster, sql.when(older_than), *sql.job_ids(held)]
    released = [sql.read_id(row[0]) for row in sql.rows("release_unheld", params, held=len(held))]
    ratewindow.leave(released)
    return released


def record(
    entries: Sequence[DecidedAttempt], *, also: Callable[[DecidedAttempt], object] | None = None
) -> list[DecidedAttempt]:
    """Record decided attempts in ONE transaction (a group commit); return those recorded.

    Each job's write is guarded: an attempt whose claim was lost (another cluster reclaimed
    it) writes nothing and is left out of the answer, so no hook runs for it. `also` runs
    inside the transaction for each recorded entry (the reclaimer enqueues hook jobs there).
    """
    if not entries:
        return []
    recorded: list[DecidedAttempt] = []
    ended = [e for e in entries if not e.decision.given_back]
    returned = [e for e in entries if e.decision.given_back]
    with sql.write_transaction():
        written = _finish_all(ended)
        for entry in ended:
            if entry.job_id in written:
                recorded.append(entry)
            else:
                logger.warning("job %s: lease lost before attempt %s was recorded", entry.job_id, entry.claim.attempt)
        recorded += _give_back(returned)
        inserts.insert([_attempt_row(e) for e in recorded if e.decision.outcome is not None])
        dead = [e for e in recorded if e.decision.status == Status.DEAD]
        if dead:
            DeadLetter.objects.bulk_create([_dead_letter(e) for e in dead])
        finished_ids = [e.job_id for e in recorded if e.decision.status in FINISHED]
        if finished_ids and dependencies.resolve(finished_ids):
            notify()
        for entry in recorded:
            if entry.decision.status == Status.SUCCEEDED and entry.report is not None and entry.report.follow_ups:
                _enqueue_follow_ups(entry)
            if also is not None:
                also(entry)
    return recorded


def _give_back(entries: Sequence[DecidedAttempt]) -> list[DecidedAttempt]:
    """Claims given back unrun, in one guarded write per (status, run_after, note, cluster);
    those whose claims all held are recorded (a group partly lost counts as not recorded)."""
    if not entries:
        return []
    ratewindow.leave([e.job_id for e in entries])  # never started: not in the window
    groups: dict[tuple[Any, ...], list[DecidedAttempt]] = {}
    for entry in entries:
        d = entry.decision
        groups.setdefault((d.status, d.run_after, d.note, entry.claim.cluster), []).append(entry)
    recorded: list[DecidedAttempt] = []
    for (status, run_after, note, cluster), group in groups.items():
        params: list[Any] = [status.value, sql.when(run_after), note or None, cluster]
        for entry, job_id in zip(group, sql.job_ids(e.job_id for e in group), strict=True):
            params += [job_id, entry.claim.attempt]
        changed = sql.count("give_back", params, jobs=len(group))
        if changed == len(group):
            recorded += group
        elif changed < len(group):
            logger.warning("%s of %s job(s) given back were no longer ours", len(group) - changed, len(group))
    return recorded


_CONNECTION_ERRORS = (OperationalError, InterfaceError)


def patiently(write: Callable[..., T], *args: Any, patience: float | None = None, **kwargs: Any) -> T:
    """Run an engine write, retried through a dropped connection for up to `patience`
    seconds (the RECORD_PATIENCE setting): a database restarted in that time does not make
    jobs run again, nor leave a started unit unstarted. Past it, the error is raised and the
    attempts are left to the reclaimer."""
    deadline = time.monotonic() + (jobqueue_settings.RECORD_PATIENCE if patience is None else patience)
    delay = 0.1
    while True:
        try:
            return write(*args, **kwargs)
        except _CONNECTION_ERRORS as exc:
            connection.close()
            if time.monotonic() + delay > deadline:
                logger.error("%s failed for good (%s); the reclaimer will take over", write.__name__, exc)
                raise
            logger.warning("%s failed (%s); retrying in %.1f s", write.__name__, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        except DatabaseError:
            connection.close()
            raise


def record_patiently(entries: Sequence[DecidedAttempt], *, patience: float | None = None) -> list[DecidedAttempt]:
    """`record`, through a dropped connection (see `patiently`)."""
    return patiently(record, entries, patience=patience)


# Jobs recorded per statement at most (SQLite's bound-parameter limit is 32,766 since 3.32).
FINISH_ROWS = 500


def _finish_all(entries: Sequence[DecidedAttempt]) -> set[str]:
    """Write the decisions of ended attempts, each guarded by its claim; the ids of the jobs
    written (an attempt whose claim was lost is not among them).

    On PostgreSQL and SQLite one statement per FINISH_ROWS jobs (`finish_many`): a group
    commit of a unit's jobs is then one round trip, not one per job. MariaDB / MySQL have no
    `UPDATE ... RETURNING`, so they keep one `finish` per job, whose row count says the same."""
    if not entries:
        return set()
    ids = [e.job_id for e in entries]
    if not sql.returns_updated_rows() or len(set(ids)) != len(ids):
        return {e.job_id for e in entries if _finish(e)}
    written: set[str] = set()
    for start in range(0, len(entries), FINISH_ROWS):
        chunk = entries[start : start + FINISH_ROWS]
        params: list[Any] = []
        for entry, job_id in zip(chunk, sql.job_ids(e.job_id for e in chunk), strict=True):
            params += [job_id, entry.claim.attempt, entry.claim.cluster, *_finish_values(entry)]
        written.update(sql.read_id(row[0]) for row in sql.rows("finish_many", params, jobs=len(chunk)))
    return written


def _finish_values(entry: DecidedAttempt) -> list[Any]:
    """`finish`'s values of one attempt: status, last_error, progress, finished_at, run_after,
    result, refund."""
    report, decision = _ran(entry), entry.decision
    return [
        decision.status.value,
        error_line(report),
        None if report.progress is None else float(report.progress),
        sql.when(report.finished_at) if decision.status in FINISHED else None,
        sql.when(decision.run_after),
        None if report.result is None else _RESULT_FIELD.get_db_prep_save(report.result, connection),
        1 if decision.refunded else 0,
    ]


def _finish(entry: DecidedAttempt) -> bool:
    claim = entry.claim
    params = [*_finish_values(entry), sql.job_id(claim.job_id), claim.attempt, claim.cluster]
    return bool(sql.count("finish", params))


def _ran(entry: DecidedAttempt) -> AttemptReport:
    """The report of an attempt that started (a programming error if it has none)."""
    if entry.report is None:
        raise ValueError(f"job {entry.job_id}: only a decision that gives the claim back may come without a report")
    return entry.report


def _attempt_row(entry: DecidedAttempt) -> Attempt:
    report, claim = _ran(entry), entry.claim
    started, now = report.started_at, report.finished_at
    assert entry.snapshot is not None  # noqa: S101 - every started attempt has its snapshot
    return Attempt(
        job_id=claim.job_id,
        job_type_id=entry.snapshot.type_id,
        number=claim.attempt,
        cluster=claim.cluster,
        host=report.host[:128],
        pid=report.pid,
        started_at=started,
        finished_at=now,
        duration_ms=int((now - started).total_seconds() * 1000) if started else None,
        outcome=report.outcome,
        error_type=report.error_type[:255],
        error_message=bounded(report.error_message, jobqueue_settings.ERROR_MAX_CHARS),
        traceback=bounded(report.traceback, jobqueue_settings.TRACEBACK_MAX_CHARS),
        logs=report.logs,
        batch_id=report.batch_id,
    )


def _dead_letter(entry: DecidedAttempt) -> DeadLetter:
    report = _ran(entry)
    assert entry.snapshot is not None  # noqa: S101 - every started attempt has its snapshot
    return DeadLetter(
        job_id=entry.job_id,
        job_type_id=entry.snapshot.type_id,
        reason=entry.decision.dead_reason or DeadReason.PERMANENT_ERROR,
        error_type=report.error_type[:255],
        error_message=bounded(report.error_message, jobqueue_settings.ERROR_MAX_CHARS),
        traceback=bounded(report.traceback, jobqueue_settings.TRACEBACK_MAX_CHARS),
        payload=entry.snapshot.payload,
        attempts=entry.snapshot.attempt,
        created_at=report.finished_at,
    )


def _enqueue_follow_ups(entry: DecidedAttempt) -> None:
    # One by one, so that a follow-up whose unique key is held resolves to the holder
    # instead of failing the whole success.
    report = _ran(entry)
    for follow_up in report.follow_ups:
        options = {"created_by": f"job:{entry.job_id}", **follow_up.options}
        built = build_job(follow_up.definition, follow_up.payload, now=report.finished_at, **options)
        built.trace_context = follow_up.trace_context  # the attempt's enqueue span (jobqueue.tracing)
        enqueue_built(built, follow_up.definition)


def error_line(report: AttemptReport) -> str:
    if report.outcome not in FAILURES:
        return ""
    text = f"{report.error_type}: {report.error_message}" if report.error_type else report.error_message
    return bounded(text, jobqueue_settings.ERROR_MAX_CHARS)


def bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n… [{len(text) - limit} characters cut] …\n" + text[-limit // 2 :]
