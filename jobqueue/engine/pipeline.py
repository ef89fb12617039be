"""The one execution pipeline: run a claimed unit of jobs, decide each attempt once, record
the decisions in groups, then run the hooks of the attempts that were recorded.

A unit is one job, a chunk of short jobs run one after another, many async jobs run at once
on one event loop, or a batch (one `execute_batch` call). Whatever the unit, each job goes
through the same steps (`engine.steps`), gets one `Decision`, and is recorded by the same
guarded write; a hook runs only after its attempt's decision was recorded, so never for an
attempt whose claim was lost, and never twice (the reclaimer only closes attempts whose
claim is still open, and enqueues their hooks in the same transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async

from jobqueue import tracing
from jobqueue.config.effective import TypeState, type_state
from jobqueue.config.options import EffectiveConfig
from jobqueue.context import JobContext
from jobqueue.engine import inflight, steps, transitions
from jobqueue.engine.decide import DecidedAttempt, JobRun, give_back
from jobqueue.engine.drivers import adrive, drive
from jobqueue.engine.recorder import HOST, Recorder, reset_connection
from jobqueue.engine.shutdown import shutting_down
from jobqueue.engine.topup import TopUp
from jobqueue.engine.units import JobSnapshot, Mode, Unit, is_rated, unit_size
from jobqueue.exceptions import UnknownJobTypeError
from jobqueue.models import DeadReason, Outcome
from jobqueue.tracing import AttemptSpan

logger = logging.getLogger("jobqueue")


def run_unit(unit: Unit, *, top_up: bool = False) -> str:
    """Run one claimed unit and record every attempt of it. Returns a word for the log
    ("recorded", "released", "lost", "unrecorded"); never raises, since django-q2 would then
    store a result of its own: the Job and Attempt rows are the only history. With `top_up`
    (a cluster's worker), an async unit takes more jobs of its type as its jobs finish
    (`engine.topup`); without (`jobqueue.testing.drain`), it runs the jobs it was handed."""
    try:
        return _run(unit, top_up)
    except BaseException:
        # Only our own bookkeeping lands here (a lost database, say). The leases will expire
        # and another cluster (or this one, by pid) reclaims the jobs: log, and go on.
        logger.exception("unit of %s job(s) of %s could not be recorded", len(unit.jobs), unit.type_name)
        reset_connection()
        return "unrecorded"
    finally:
        inflight.running(inflight.IDLE)
        inflight.done(1)


def _run(unit: Unit, top_up: bool) -> str:
    began = time.monotonic()  # about when django-q2's guard started counting the unit's budget
    if shutting_down() or inflight.outranked(unit.priority):
        # Claimed, never started: back to the queue in one write, attempts unspent. Also when
        # a unit of higher priority waits behind this one in the local queue: this worker
        # takes it next, rather than after this unit's start and its first job.
        transitions.record([DecidedAttempt(claim, give_back()) for claim in unit.claims])
        return "released"
    try:
        state: TypeState | None = type_state(unit.type_name)
    except UnknownJobTypeError:
        state = None
    config = state.config if state is not None else EffectiveConfig(name="")
    inflight.taken(unit.priority)
    worker = f"{HOST}:{os.getpid()}"
    rated = state is not None and is_rated(state)
    snapshots = transitions.patiently(
        transitions.start_unit, unit.claims, worker=worker, timeout=unit.timeout, rated=rated
    )
    if not snapshots:
        return "lost"
    run = _UnitRun(unit, state, config, worker)
    if state is None:
        # A type gone from the code: its jobs are refused, never run.
        for snapshot in snapshots:
            report = run.report()
            report.fail(UnknownJobTypeError(f"job type {unit.type_name!r} is not registered in this deployment"))
            report.retryable, report.dead_reason = False, DeadReason.UNREGISTERED_TYPE
            run.decided(snapshot, report, None)
    elif unit.mode == Mode.ASYNC:
        # The loop runs in asgiref's loop thread; thread-sensitive sync calls (the ORM, the
        # recorder) come back to this thread and its connection, as in Django's async views.
        if top_up:
            run.topup = TopUp(unit, state, run.recorder, worker, unit_size(state), began)
        async_to_sync(run.concurrently)(snapshots)
    elif unit.mode == Mode.BATCH:
        run.batch(snapshots)
    else:
        run.sequentially(snapshots)
    run.flush()
    return "recorded"


class _UnitRun:
    """The run modes of one unit in one worker; its `Recorder` keeps the outcomes."""

    def __init__(self, unit: Unit, state: TypeState | None, config: EffectiveConfig, worker: str) -> None:
        self.unit, self.state, self.config = unit, state, config
        self.recorder = Recorder(unit, config, worker)
        self.report, self.decided = self.recorder.report, self.recorder.decided
        self.topup: TopUp | None = None

    def context(self, snapshot: JobSnapshot) -> JobContext:
        assert self.state is not None  # noqa: S101 - unregistered types never get here
        return JobContext.for_attempt(
            self.state.definition,
            self.config,
            snapshot.id,
            snapshot.attempt,
            snapshot.max_attempts,
            timeout=self.unit.timeout,
            progress=snapshot.progress,
        )

    def flush(self) -> list[DecidedAttempt]:
        return self.recorder.flush()

    def traced(self, snapshot: JobSnapshot, *, current: bool = True) -> contextlib.AbstractContextManager[AttemptSpan]:
        """The attempt's span (jobqueue.tracing), current while its code runs unless told not."""
        return tracing.attempt(
            self.unit.type_name, snapshot.id, snapshot.attempt, snapshot.trace_context, current=current
        )

    # -- the three ways to run a unit -------------------------------------------------------

    def sequentially(self, snapshots: list[JobSnapshot]) -> None:
        assert self.state is not None  # noqa: S101
        began = time.monotonic()
        ran = 0
        for snapshot in snapshots:
            if ran and inflight.outranked(snapshot.priority) and self.recorder.hand_back(snapshots[ran:]):
                # A unit of higher priority waits for a worker: the rest went back to the queue
                # (attempts unspent, places kept), and this worker is free to take it.
                break
            ran += 1
            inflight.running(inflight.SEQUENTIAL, snapshot.id)
            instance, ctx, report = self.state.definition.job_class(), self.context(snapshot), self.report()
            with self.traced(snapshot) as traced:
                deadline = time.monotonic() + self.unit.timeout
                drive(steps.single(instance, ctx, snapshot.payload, snapshot.cancel_requested, report), deadline)
                report.follow_ups = ctx.follow_ups
                self.decided(snapshot, report, JobRun(instance, ctx), traced)
            if self.recorder.due():
                self._hooks_now(self.flush())
        self._hooks_now(self.flush())
        # What a job of this type really costs a worker, recording included: chunks are sized
        # from it (a job's own run time alone would make chunks of no-ops far too long).
        inflight.observe(self.unit.type_name, (time.monotonic() - began) / ran)

    def batch(self, snapshots: list[JobSnapshot]) -> None:
        assert self.state is not None  # noqa: S101
        inflight.running(inflight.CONCURRENT)
        instance, ctx = self.state.definition.job_class(), self.context(snapshots[0])
        ctx.attempt = max(s.attempt for s in snapshots)
        ctx.max_attempts = min(s.max_attempts for s in snapshots)
        reports = {s.id: self.report() for s in snapshots}
        jobs = [(s.id, s.payload, s.cancel_requested, reports[s.id]) for s in snapshots]
        batch_steps = steps.batch(instance, ctx, jobs)
        with contextlib.ExitStack() as spans:
            # A span per job's attempt, all over the one call; the first job's is the current one.
            traced = {s.id: spans.enter_context(self.traced(s, current=False)) for s in snapshots[1:]}
            traced[snapshots[0].id] = spans.enter_context(self.traced(snapshots[0]))
            if self.state.definition.is_async:
                async_to_sync(_adrive_for)(batch_steps, self.unit.timeout)
            else:
                drive(batch_steps, time.monotonic() + self.unit.timeout)
            batch_id = uuid.uuid4()
            # Follow-ups of a batch commit with its first successful job (and not at all if none).
            winners = [s for s in snapshots if reports[s.id].outcome == Outcome.SUCCEEDED]
            if winners:
                reports[winners[0].id].follow_ups = ctx.follow_ups
            for snapshot in snapshots:
                reports[snapshot.id].batch_id = batch_id
                self.decided(snapshot, reports[snapshot.id], JobRun(instance, ctx), traced[snapshot.id])
        self._hooks_now(self.flush())

    async def concurrently(self, snapshots: list[JobSnapshot]) -> None:
        """Every job of the unit at once on this loop, each under its own deadline; decisions
        are flushed every FLUSH_INTERVAL_MS by one recorder, off the loop. With a `TopUp`, as
        jobs finish, more jobs of the type are claimed and started (off the loop, in the
        worker's thread, as the recorder's writes) and join the loop, until it stops."""
        inflight.running(inflight.CONCURRENT)
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        recorder = asyncio.create_task(self._recorder(done))
        topup = self.topup
        running = {asyncio.create_task(self._one_async(s, loop.time())) for s in snapshots}
        try:
            while running:
                finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    task.result()  # our own bookkeeping's error, as gather raised it
                if topup is not None and topup.wants(len(running)):
                    if topup.limited:
                        # The finished jobs' decisions first: committed, they no longer count
                        # against the type's limits in the claim that follows.
                        await self._commit()
                    # Otherwise the claim first: the recorder's writes share the worker's
                    # thread, and the free slots wait for the claim, not for the record.
                    fresh = await sync_to_async(topup.take, thread_sensitive=True)(len(running))
                    running |= {asyncio.create_task(self._one_async(s, loop.time())) for s in fresh}
        finally:
            done.set()
            await recorder

    async def _one_async(self, snapshot: JobSnapshot, began: float) -> None:
        assert self.state is not None  # noqa: S101
        instance, ctx, report = self.state.definition.job_class(), self.context(snapshot), self.report()
        job_steps = steps.single(instance, ctx, snapshot.payload, snapshot.cancel_requested, report)
        # Current in this job's task alone: each task of the gather runs in a copy of the context.
        with self.traced(snapshot) as traced:
            await adrive(job_steps, began + self.unit.timeout)
            report.follow_ups = ctx.follow_ups
            self.decided(snapshot, report, JobRun(instance, ctx), traced)

    async def _commit(self) -> None:
        """Record the pending decisions now, then run the hooks they call for. Taken on the
        loop (jobs append to it there), written off the loop in the worker's thread."""
        if not self.recorder.pending:
            return
        recorded = await sync_to_async(self.recorder.record, thread_sensitive=True)(self.recorder.take())
        await asyncio.gather(*(adrive(hook, None) for hook in _hooks(recorded)))

    async def _recorder(self, done: asyncio.Event) -> None:
        recorder = self.recorder
        while True:
            finished = done.is_set()
            if recorder.pending and (finished or recorder.due()):
                await self._commit()
            if finished and not recorder.pending:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), recorder.interval)

    def _hooks_now(self, recorded: list[DecidedAttempt]) -> None:
        hooks = _hooks(recorded)
        if hooks and self.state is not None and self.state.definition.is_async:
            async_to_sync(_all)(hooks)
            return
        for hook in hooks:
            drive(hook, None)


def _hooks(recorded: list[DecidedAttempt]) -> list[steps.Steps]:
    """The failure hooks the recorded decisions call for."""
    return [
        steps.hook(run.instance, name, run.ctx, _payload(run.ctx, snapshot), report.error)
        for entry in recorded
        if (run := entry.run) is not None
        and (snapshot := entry.snapshot) is not None
        and (report := entry.report) is not None
        and (name := entry.decision.hook) is not None
    ]


async def _all(hooks: list[steps.Steps]) -> None:
    await asyncio.gather(*(adrive(hook, None) for hook in hooks))


async def _adrive_for(job_steps: steps.Steps, timeout: float) -> Any:
    return await adrive(job_steps, asyncio.get_running_loop().time() + timeout)


def _payload(ctx: JobContext, snapshot: JobSnapshot) -> Any:
    """The validated payload for a hook (None if it was invalid)."""
    try:
        return ctx.definition.validate_payload(snapshot.payload)
    except Exception:
        return None
