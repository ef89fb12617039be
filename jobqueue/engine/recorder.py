"""A unit's recorder: its decided attempts waiting for the next group commit, the flush
timing, and the leases of its jobs not yet recorded.

The pipeline's run modes (`engine.pipeline`) hand each finished attempt to `decided()`; the
recorder decides it once (`decide()`), queues it, and writes the queue in one transaction
(`transitions.record`) when `FLUSH_INTERVAL_MS` has passed since its oldest entry (for a chunk
of sync jobs, sized to take `CHUNK_BUDGET_MS`, when that has), or when the unit ends. After
each flush it renews, once half gone, the leases of the unit's jobs that are still running,
so a long chunk never loses the claims of the jobs it has not reached.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence

from django.db import close_old_connections, connection
from django.utils import timezone

from jobqueue.config.options import EffectiveConfig
from jobqueue.config.settings import jobqueue_settings
from jobqueue.engine import sql, transitions
from jobqueue.engine.decide import AttemptReport, DecidedAttempt, JobRun, decide, give_back
from jobqueue.engine.lease import renew_after
from jobqueue.engine.units import JobSnapshot, Mode, Unit
from jobqueue.models import Outcome
from jobqueue.tracing import AttemptSpan

logger = logging.getLogger("jobqueue")
HOST = socket.gethostname()


class Recorder:
    """The pending outcomes of one unit in one worker."""

    def __init__(self, unit: Unit, config: EffectiveConfig, worker: str) -> None:
        self.unit, self.config, self.worker = unit, config, worker
        self.pending: list[DecidedAttempt] = []
        self.first_pending = 0.0
        self.open = {c.job_id: c for c in unit.claims}  # not yet recorded (or handed back)
        self.interval = jobqueue_settings.FLUSH_INTERVAL_MS / 1000
        if unit.mode == Mode.SYNC and len(unit.jobs) > 1 and not awaited(unit):
            # A chunk is sized to take about CHUNK_BUDGET_MS: recorded at its end in one commit
            # (every CHUNK_BUDGET_MS if it runs over), not every FLUSH_INTERVAL_MS on the way.
            # Not when another job waits for one of its jobs (a workflow's step): the dependent
            # becomes ready only when that success is committed.
            self.interval = max(self.interval, jobqueue_settings.CHUNK_BUDGET_MS / 1000)
        self.lease_half = renew_after(unit.timeout)
        self.extend_at = time.monotonic() + self.lease_half

    @staticmethod
    def report() -> AttemptReport:
        """A fresh report for an attempt starting now in this worker (failed until told otherwise)."""
        return AttemptReport(outcome=Outcome.FAILED, started_at=timezone.now(), host=HOST, pid=os.getpid())

    def decided(
        self, snapshot: JobSnapshot, report: AttemptReport, run: JobRun | None, traced: AttemptSpan | None = None
    ) -> None:
        """Take one finished attempt: decide it, and queue it for the next group commit. Its
        span (`traced`), if any, ends with the same decision."""
        report.finished_at = timezone.now()
        decision = decide(report, snapshot.attempt, snapshot.max_attempts, self.config, report.finished_at)
        if traced is not None:
            error = f"{report.error_type}: {report.error_message}" if report.error_type else report.error_message
            outcome = decision.outcome.value if decision.outcome is not None else "released"
            traced.finished(outcome, decision.status.value, report.error, error)
        if not self.pending:
            self.first_pending = time.monotonic()
        self.pending.append(DecidedAttempt.of(snapshot, report, decision, run=run))

    def due(self) -> bool:
        return bool(self.pending) and time.monotonic() - self.first_pending >= self.interval

    def take(self) -> list[DecidedAttempt]:
        entries, self.pending = self.pending, []
        return entries

    def flush(self) -> list[DecidedAttempt]:
        return self.record(self.take())

    def record(self, entries: list[DecidedAttempt]) -> list[DecidedAttempt]:
        """Record decisions in one transaction (a group commit); keep the rest of the unit leased."""
        if not entries:
            return []
        try:
            recorded = transitions.record_patiently(entries)
        except Exception:
            logger.exception("%s attempt(s) of %s could not be recorded", len(entries), self.unit.type_name)
            reset_connection()
            recorded = []
        for entry in entries:
            self.open.pop(entry.job_id, None)
        if self.open and time.monotonic() >= self.extend_at:
            # The unit's jobs not yet recorded keep their leases: renewed once half gone.
            transitions.extend(list(self.open.values()), worker=self.worker, timeout=self.unit.timeout)
            self.extend_at = time.monotonic() + self.lease_half
        return recorded

    def hand_back(self, snapshots: Sequence[JobSnapshot]) -> bool:
        """Give not-yet-run jobs of this unit back to the queue now, attempts unspent; False
        (and they stay this worker's to run) if the database would not take them."""
        try:
            transitions.record([DecidedAttempt(s.claim, give_back()) for s in snapshots])
        except Exception:
            logger.warning(
                "%s job(s) of %s could not be handed back; running them", len(snapshots), self.unit.type_name
            )
            reset_connection()
            return False
        for snapshot in snapshots:
            self.open.pop(snapshot.id, None)
        return True


def awaited(unit: Unit) -> bool:
    """Whether any job waits for one of the unit's jobs (one probe of the dependency index)."""
    ids = sql.job_ids(job_id for job_id, _ in unit.jobs)
    return bool(sql.rows("any_dependent", ids, ids=len(ids)))


def reset_connection() -> None:
    # An exception (or a timeout) may have left the connection inside a broken transaction.
    try:
        if connection.in_atomic_block:
            return
        if connection.connection is not None and connection.needs_rollback:
            connection.rollback()
        close_old_connections()
    except Exception:
        connection.close()
