"""Fixture job types for the tests, discovered like any installed app's jobs module."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pydantic

from jobqueue import BaseJob, JobContext, JobResult, PermanentError, RetryableError, Snooze, Unique, job


def _ledger(path: str, line: str) -> None:
    # Append-only and flushed at once: the tests read it while the cluster runs.
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


@job(max_attempts=1)
def noop() -> None:
    """Do nothing (the benchmark's and the bulk tests' job)."""


@job(max_attempts=1)
def echo(ctx: JobContext, value: int, label: str = "") -> JobResult:
    """Return its payload."""
    ctx.log.info("echo %s", value)
    return JobResult.ok("echoed", {"value": value, "label": label})


@job(max_attempts=1, timeout=30)
def record(ctx: JobContext, ledger: str, tag: str, sleep: float = 0.0) -> JobResult:
    """Write `<tag> <job id> start/end <time>` lines to a ledger file, sleeping in between."""
    _ledger(ledger, f"start {tag} {ctx.job_id} {time.time():.6f} {os.getpid()}")
    if sleep:
        time.sleep(sleep)
    _ledger(ledger, f"end {tag} {ctx.job_id} {time.time():.6f} {os.getpid()}")
    return JobResult.ok()


@job(max_attempts=1, concurrency=2, timeout=30)
def limited(ctx: JobContext, ledger: str, sleep: float = 0.3) -> JobResult:
    """A type that never runs more than two at once."""
    _ledger(ledger, f"start limited {ctx.job_id} {time.time():.6f} {os.getpid()}")
    time.sleep(sleep)
    _ledger(ledger, f"end limited {ctx.job_id} {time.time():.6f} {os.getpid()}")
    return JobResult.ok()


@job(max_attempts=3, backoff_base=1.0, backoff_factor=2.0, backoff_jitter=0.0, timeout=10)
def always_fails(ctx: JobContext, ledger: str = "") -> None:
    """Fail every attempt with a retryable error."""
    if ledger:
        _ledger(ledger, f"attempt {ctx.attempt} {time.time():.6f}")
    raise RetryableError(f"failure number {ctx.attempt}")


@job(max_attempts=3)
def permanent_failure(ctx: JobContext) -> None:
    """Fail in a way retrying cannot help."""
    raise PermanentError("the input can never work")


@job(max_attempts=2, timeout=1, backoff_base=0.5, backoff_jitter=0.0)
def sleepy(ctx: JobContext, seconds: float = 5.0) -> None:
    """Sleep past its timeout."""
    time.sleep(seconds)


@job(max_attempts=3, timeout=20, backoff_base=0.2, backoff_jitter=0.0)
def suicide(ctx: JobContext, ledger: str = "") -> None:
    """Kill its own worker process, every time."""
    if ledger:
        _ledger(ledger, f"attempt {ctx.attempt} {os.getpid()}")
    os.kill(os.getpid(), 9)


@job(name="doomed", max_attempts=2, timeout=20, backoff_base=0.2, backoff_jitter=0.0)
class Doomed(BaseJob):
    """Kill its own worker every time; its hooks (run by jobqueue_hook) write to the ledger."""

    class Payload(pydantic.BaseModel):
        ledger: str

    def execute(self, ctx: JobContext, payload: Payload) -> None:
        _ledger(payload.ledger, f"attempt {ctx.attempt} {os.getpid()}")
        os.kill(os.getpid(), 9)

    def on_failure(self, ctx: JobContext, payload: Payload, error: BaseException) -> None:
        _ledger(payload.ledger, f"on_failure {ctx.attempt} {getattr(error, 'outcome', '?')}")

    def on_dead(self, ctx: JobContext, payload: Payload, error: BaseException | None) -> None:
        _ledger(payload.ledger, f"on_dead {ctx.attempt} {getattr(error, 'outcome', '?')}")


@job(max_attempts=1)
def spawn_follow_up(ctx: JobContext, value: int, fail: bool = False) -> None:
    """Enqueue an echo job that commits only with this job's success."""
    ctx.enqueue("echo", {"value": value})
    if fail:
        raise PermanentError("failed after enqueueing")


@job(max_attempts=1, timeout=30)
def cancellable(ctx: JobContext, ledger: str = "") -> JobResult:
    """Loop until cancelled (at most 20 s)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if ctx.is_cancelled():
            return JobResult.ok("stopped on request")
        time.sleep(0.05)
    return JobResult.ok("never cancelled")


@job(name="typed_settings", enabled=False)
class TypedSettings(BaseJob):
    """A class-form type with a payload model, typed settings and a secret."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        text: str = pydantic.Field(min_length=1, max_length=280)
        count: int = pydantic.Field(default=1, ge=1, le=10)

    class Settings(pydantic.BaseModel):
        api_base_url: str = "https://api.example.test"
        retries: int = 2
        token: pydantic.SecretStr = pydantic.SecretStr("")

    def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        return JobResult.ok(data={"url": ctx.settings.api_base_url, "text": payload.text})


@job(max_attempts=3, timeout=30, backoff_base=0.2, backoff_jitter=0.0)
def durable(ctx: JobContext, ledger: str, sleep: float = 0.0) -> JobResult:
    """Like `record`, but retried: the ledger shows a repeated start for a killed attempt."""
    _ledger(ledger, f"start durable {ctx.job_id} {time.time():.6f} {os.getpid()}")
    if sleep:
        time.sleep(sleep)
    _ledger(ledger, f"end durable {ctx.job_id} {time.time():.6f} {os.getpid()}")
    return JobResult.ok()


@job(max_attempts=1, rate_limit="5/2s", timeout=30)
def rate_limited(ctx: JobContext, ledger: str) -> JobResult:
    """At most 5 starts in any 2 seconds, across all clusters."""
    _ledger(ledger, f"start rate {ctx.job_id} {time.time():.6f} {os.getpid()}")
    return JobResult.ok()


@job(max_attempts=1, unique=Unique(fields=("key",)))
def unique_by_key(key: str, note: str = "") -> None:
    """One waiting or running job per key."""


@job(max_attempts=1, unique=Unique(fields=("key",), period=3600))
def unique_for_an_hour(key: str) -> None:
    """One job per key per hour, whatever became of the first."""


@job(name="batcher", batch_size=10, max_attempts=2, backoff_base=0.2, backoff_jitter=0.0, timeout=30)
class Batcher(BaseJob):
    """Handle up to ten items per call; an item with fail=True fails on its first attempt."""

    class Payload(pydantic.BaseModel):
        item: int
        fail: bool = False
        ledger: str = ""

    def execute_batch(self, ctx: JobContext, payloads: list[Payload]) -> list[JobResult | Exception]:
        if payloads and payloads[0].ledger:
            _ledger(payloads[0].ledger, f"batch {len(payloads)} {ctx.attempt} {time.time():.6f} {os.getpid()}")
        return [
            RetryableError(f"item {p.item} failed") if p.fail and ctx.attempt == 1 else JobResult.ok(data=p.item)
            for p in payloads
        ]


@job(schedule=1, enabled=False, max_attempts=1)
def ticker(ctx: JobContext) -> None:
    """Scheduled every second (enabled by the tests that need it)."""


@job(schedule="30 9 * * *", schedule_timezone="America/New_York", enabled=False)
def morning_report(ctx: JobContext) -> None:
    """Scheduled by cron at 09:30 New York time."""


@job(schedule=1, overlap=False, enabled=False, timeout=30)
def slow_scheduled(ctx: JobContext, seconds: float = 3.0) -> None:
    """Scheduled every second, but takes longer: overlap=False must skip slots."""
    time.sleep(seconds)


@job(max_attempts=1, timeout=5)
async def wait_async(ctx: JobContext, seconds: float = 0.2, ledger: str = "") -> JobResult:
    """Await a sleep (standing in for a network call); many run at once on one event loop."""
    started = time.time()
    await asyncio.sleep(seconds)
    if ledger:
        _ledger(ledger, f"async {ctx.job_id} {started:.6f} {time.time():.6f} {os.getpid()}")
    return JobResult.ok("waited", {"seconds": seconds})


@job(name="async_mix", max_attempts=1, timeout=1)
class AsyncMix(BaseJob):
    """An async class-form type whose payload says how each job ends: ok, raise, exit, hang
    past its timeout, or wait for its cancel request. Its hooks and cleanup are async too."""

    class Payload(pydantic.BaseModel):
        how: str = "ok"
        ledger: str = ""

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        if payload.how == "raise":
            raise PermanentError("told to fail")
        if payload.how == "exit":
            raise SystemExit(4)  # as sys.exit() in the job's code
        if payload.how == "hang":
            await asyncio.sleep(30)
        if payload.how == "cancel":
            for _ in range(200):
                if await ctx.ais_cancelled():
                    return JobResult.ok("stopped on request")
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        return JobResult.ok("done")

    async def on_dead(self, ctx: JobContext, payload: Payload, error: BaseException | None) -> None:
        if payload.ledger:
            _ledger(payload.ledger, f"on_dead {ctx.job_id} {type(error).__name__}")

    async def cleanup(self, ctx: JobContext, payload: Payload) -> None:
        if payload is not None and payload.ledger:
            _ledger(payload.ledger, f"cleanup {ctx.job_id}")


@job(max_attempts=3, timeout=30, backoff_base=0.2, backoff_jitter=0.0)
def chunky(ctx: JobContext, ledger: str, kill: bool = False) -> None:
    """A short job run in chunks; `kill` kills its worker on the first attempt only."""
    _ledger(ledger, f"run {ctx.job_id} {ctx.attempt} {os.getpid()}")
    if kill and ctx.attempt == 1:
        os.kill(os.getpid(), 9)


@job(max_attempts=1)
def short(ms: float = 2.0, urgency: int | None = None) -> None:
    """Busy for a couple of milliseconds: short enough to be chunked, long enough to queue up.
    With `urgency`: as if, while it ran, the pusher queued a unit of that priority."""
    if urgency is not None:
        from jobqueue.engine import inflight

        inflight.waiting(urgency)
    time.sleep(ms / 1000)


@job(name="snoozer", max_attempts=2, backoff_base=0.001, backoff_jitter=0.0)
class Snoozer(BaseJob):
    """Snooze `times` times (raising `Snooze`, or returning `JobResult.snooze` when `returned`),
    then succeed, or fail when `fail`; its on_failure / on_dead write to `ledger` when given."""

    class Payload(pydantic.BaseModel):
        times: int = 1
        seconds: float = 0.0
        returned: bool = False
        fail: bool = False
        ledger: str = ""

    def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        if ctx.attempt <= payload.times:
            if payload.returned:
                return JobResult.snooze(payload.seconds, "not yet")
            raise Snooze(payload.seconds)
        if payload.fail:
            raise RetryableError("failed after snoozing", after=0)
        return JobResult.ok("done", {"attempt": ctx.attempt})

    def on_failure(self, ctx: JobContext, payload: Payload, error: BaseException) -> None:
        if payload.ledger:
            _ledger(payload.ledger, f"on_failure {ctx.attempt}")

    def on_dead(self, ctx: JobContext, payload: Payload, error: BaseException | None) -> None:
        if payload.ledger:
            _ledger(payload.ledger, f"on_dead {ctx.attempt}")


@job(max_attempts=1)
async def async_snoozer(ctx: JobContext, seconds: float = 0.0) -> JobResult:
    """Snooze on its first attempt, succeed on the next (an async type: units of many)."""
    await asyncio.sleep(0)
    if ctx.attempt == 1:
        raise Snooze(seconds, "later, please")
    return JobResult.ok()


@job(max_attempts=1, timeout=30)
def step(ctx: JobContext, ledger: str = "", tag: str = "", value: int = 0, fail_while: str = "") -> JobResult:
    """A workflow step: its start in the ledger; fails while the file `fail_while` exists;
    its total is its value plus its dependencies' totals."""
    if ledger:
        _ledger(ledger, f"start {tag} {ctx.job_id} {time.time():.6f}")
    if fail_while and os.path.exists(fail_while):
        raise PermanentError(f"{fail_while} exists")
    totals = [r["total"] for r in ctx.dependency_results().values() if r]
    return JobResult.ok(data={"total": value + sum(totals)})


@job(max_attempts=1, partition_concurrency=2, timeout=30, partition="dao")
def per_dao(ctx: JobContext, dao: str, ledger: str = "", sleep: float = 0.0) -> JobResult:
    """At most two running at once per DAO, across all clusters; its start and end in the ledger."""
    if ledger:
        _ledger(ledger, f"start {dao} {ctx.job_id} {time.time():.6f} {os.getpid()}")
    if sleep:
        time.sleep(sleep)
    if ledger:
        _ledger(ledger, f"end {dao} {ctx.job_id} {time.time():.6f} {os.getpid()}")
    return JobResult.ok()


@job(max_attempts=1, partition_rate_limit="3/2s", timeout=30)
class PerAccount(BaseJob):
    """At most 3 starts in any 2 seconds per account (computed by partition_key), across all clusters."""

    class Payload(pydantic.BaseModel):
        handle: str
        ledger: str = ""

    def partition_key(self, payload: Payload) -> str:
        # "@Alice" and "alice" are one X account.
        return payload.handle.lstrip("@").lower()

    def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        if payload.ledger:
            _ledger(payload.ledger, f"start {self.partition_key(payload)} {ctx.job_id} {time.time():.6f}")
        return JobResult.ok()


@job(max_attempts=1, timeout=30, partition="tenant")
def per_tenant(ctx: JobContext, tenant: str, ledger: str = "") -> JobResult:
    """No limit: partitioned only for fairness; its start in the ledger."""
    if ledger:
        _ledger(ledger, f"start {tenant} {ctx.job_id} {time.time():.6f}")
    return JobResult.ok()
