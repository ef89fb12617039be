"""Topping up a running async unit: as its jobs finish, its worker claims and starts more
ready jobs of the same type, to run on the same event loop.

A unit of async jobs used to hold its worker until its slowest job finished, each finished
job's slot idle till then, and its worker then went back to django-q2 for the next unit.
In a cluster (`run_unit(..., top_up=True)`), the unit's worker instead claims more jobs of the
unit's type through the claim itself (`claim(..., only=type)`: its concurrency and rate
limits, partitions, priority order and leases), a group at a time: when at least a quarter of
the unit's slots are free (`TopUp.wants`). A type with limits has its finished jobs recorded
first (the claim counts running jobs); one without is claimed first, its records following
(the writes share the worker's thread). The jobs are started in one write (`start_unit`) and
run under the unit's recorder, group commits, hooks, tracing and cancellation, as the unit's
first jobs.

It stops topping up for good, and the unit drains and ends as before, when the cluster is
shutting down, when a unit of higher priority than its jobs waits in the cluster's local
queue (`inflight.outranked`), when a claim finds nothing, when a claim or start fails, or
when its window has passed: `units.topup_window()` seconds from the unit's start, the ASYNC_TOPUP_SECONDS
setting, never more than the type's timeout. `Unit.budget`, what django-q2's guard gives the
unit, is the timeout plus that window, so a job started by the last top-up has its own whole
timeout before the guard fires; a start that ends past the window (a slow write) gives its
jobs back, attempts unspent, rather than run them into the guard. The window also bounds how
long one type's backlog holds a worker while other types' jobs of the same priority wait:
one window and one job, then the worker goes back to the pusher, which claims in priority
order, then by age.
"""

from __future__ import annotations

import logging
import time

from jobqueue.config.effective import TypeState
from jobqueue.engine import inflight, transitions
from jobqueue.engine.claim import claim, limited
from jobqueue.engine.decide import DecidedAttempt, give_back
from jobqueue.engine.recorder import Recorder, reset_connection
from jobqueue.engine.shutdown import shutting_down
from jobqueue.engine.units import Claim, JobSnapshot, Unit, is_rated, topup_window

logger = logging.getLogger("jobqueue")


class TopUp:
    """The top-ups of one async unit in one worker."""

    def __init__(self, unit: Unit, state: TypeState, recorder: Recorder, worker: str, size: int, began: float) -> None:
        self.unit, self.state, self.recorder, self.worker = unit, state, recorder, worker
        self.size = size  # the unit's slots: its type's async_concurrency
        self.threshold = max(1, size // 4)
        # From when the worker took the unit (`began`, monotonic), not from its first jobs'
        # start: a slow start must not move the window past django-q2's guard.
        self.until = began + topup_window(unit.timeout)
        self.floor = unit.priority  # the lowest priority among the jobs it has taken
        self.limited = limited(state)  # a claim counts the type's running jobs
        self.stopped = self.until <= time.monotonic()

    def wants(self, running: int) -> bool:
        """Whether to claim now, with `running` jobs of the unit still running."""
        if self.stopped:
            return False
        if shutting_down() or inflight.outranked(self.floor) or time.monotonic() >= self.until:
            self.stopped = True
            return False
        return self.size - running >= self.threshold

    def take(self, running: int) -> list[JobSnapshot]:
        """Claim and start up to the free slots' worth of jobs of the unit's type; the started
        ones (none, and no more top-ups, when the claim found nothing or failed). Runs off the
        event loop, in the worker's thread and connection, as the recorder's writes do."""
        free = self.size - running
        try:
            units = claim(1, self.unit.cluster, lambda state: free, only=self.state.type_id)
        except Exception:
            # Whether it committed or not, the Reclaimer hands back a claim of this cluster that
            # no worker started (`release_unheld`), and an expired one is reclaimed unspent.
            logger.exception("topping up a unit of %s failed; the unit drains", self.unit.type_name)
            reset_connection()
            self.stopped = True
            return []
        if not units:
            self.stopped = True
            return []
        claims = [c for unit in units for c in unit.claims]
        inflight.topped_up(len(claims))
        try:
            snapshots = transitions.patiently(
                transitions.start_unit,
                claims,
                worker=self.worker,
                timeout=self.unit.timeout,
                rated=is_rated(self.state),
            )
        except Exception:
            logger.exception("starting %s topped-up job(s) of %s failed", len(claims), self.unit.type_name)
            reset_connection()
            self.stopped = True
            self._give_back(claims)
            return []
        if time.monotonic() >= self.until:
            # Started past the window (a slow start): these jobs could outlast django-q2's
            # guard. Given back, attempts unspent; run after all if the database refuses that.
            self.stopped = True
            if self.recorder.hand_back(snapshots):
                return []
        self.recorder.open.update({s.id: s.claim for s in snapshots})
        self.floor = min([self.floor, *(s.priority for s in snapshots)])
        return snapshots

    def _give_back(self, claims: list[Claim]) -> None:
        """Claims never started: back to the queue, attempts unspent (if this write fails too,
        the Reclaimer hands them back: claimed by this cluster, held by none of its pushers)."""
        try:
            transitions.record([DecidedAttempt(c, give_back()) for c in claims])
        except Exception:
            logger.warning("%s topped-up claim(s) of %s left to the reclaimer", len(claims), self.unit.type_name)
            reset_connection()
