"""Following the chain: `chain_state_monitor` (scheduled) and the `chain_block_replay` jobs it enqueues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pydantic
from django.db import transaction
from django.utils import timezone

from jobqueue import BaseJob, JobContext, JobResult, PermanentError, Priority, RetryableError, SkipJob, job
from tasks.clients.chain import ChainApiSettings, ChainClient
from tasks.models import ChainState

NETWORK = pydantic.Field(default="mainnet", pattern=r"^[a-z][a-z0-9-]{0,19}$")


@job(priority=Priority.NORMAL, max_attempts=5, timeout=60, concurrency=4, enabled=False)
class ChainBlockReplay(BaseJob):
    """Replay one block the deployment missed: read it from the chain API and advance the ChainState."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        height: int = pydantic.Field(ge=0)
        network: str = NETWORK

    class Settings(ChainApiSettings):
        pass

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        if not ctx.settings.chain_api_url:
            raise PermanentError("set the chain_api_url setting of job type 'chain_block_replay'")

    def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        block = ChainClient(ctx.settings.chain_api_url, ctx.settings.chain_timeout_seconds).block(payload.height)
        # Replays may finish out of order: the state only ever moves forward.
        ChainState.objects.filter(network=payload.network, last_height__lt=block.height).update(
            last_height=block.height, block_hash=block.hash, updated_at=timezone.now()
        )
        return JobResult.ok(f"replayed block {block.height}", data={"height": block.height, "hash": block.hash})


@dataclass(frozen=True)
class Gap:
    first: int
    last: int

    @property
    def heights(self) -> range:
        return range(self.first, self.last + 1)


def replay_gap(state: ChainState, tip: int, threshold: int, cap: int) -> Gap | None:
    """The blocks to replay this run: none unless more than `threshold` behind, at most `cap`."""
    if state.last_height is None or tip - state.last_height <= threshold:
        return None
    return Gap(state.last_height + 1, min(tip, state.last_height + cap))


def is_stale(state: ChainState, now: datetime, stale_after: float) -> bool:
    since = state.last_ok_at or state.created_at
    return now - since >= timedelta(seconds=stale_after)


@job(
    priority=Priority.MEDIUM,
    max_attempts=1,
    timeout=60,
    concurrency=1,
    # Interval slots are aligned to the epoch and the first tick of a fresh database only marks
    # the current slot, so the first run comes at the next full hour. Every cluster runs this
    # type (enabled by default, skipped until configured); an operator who sets chain_api_url
    # sets the schedule (e.g. 60) with it. A minute here fired inside other tests' clusters.
    schedule=3600,
    overlap=False,
    requires=(ChainBlockReplay,),
)
class ChainStateMonitor(BaseJob):
    """Compare the chain tip with ChainState; when too far behind, enqueue replays of the missing blocks (capped)."""

    class Settings(ChainApiSettings):
        network: str = NETWORK
        behind_threshold: int = pydantic.Field(default=3, ge=0, description="blocks behind before replaying")
        max_replays_per_run: int = pydantic.Field(default=25, ge=1, le=1000)
        stale_after_seconds: float = pydantic.Field(default=300.0, gt=0)

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        if not ctx.settings.chain_api_url:
            # Enabled by default but inert until configured: skipped, not failed.
            raise SkipJob("not configured: set the chain_api_url setting of job type 'chain_state_monitor'")

    def execute(self, ctx: JobContext, payload: object) -> JobResult:
        settings = ctx.settings
        state, _ = ChainState.objects.get_or_create(network=settings.network)
        client = ChainClient(settings.chain_api_url, settings.chain_timeout_seconds)
        try:
            tip = client.tip()
        except (RetryableError, PermanentError) as exc:
            now = timezone.now()
            stale = is_stale(state, now, settings.stale_after_seconds)
            ChainState.objects.filter(pk=state.pk).update(is_stale=stale, last_error=str(exc)[:1000], updated_at=now)
            if stale and not state.is_stale:
                ctx.log.error("chain state of %s is stale: %s", settings.network, exc)
            raise
        from jobqueue import enqueue

        gap = replay_gap(state, tip.height, settings.behind_threshold, settings.max_replays_per_run)
        with transaction.atomic():
            changes: dict[str, object] = {"last_ok_at": timezone.now(), "is_stale": False, "last_error": ""}
            if state.last_height is None:  # first run: follow from the tip on, history is not replayed
                changes.update(last_height=tip.height, block_hash=tip.hash)
            ChainState.objects.filter(pk=state.pk).update(**changes)
            # Unique per block: a block whose replay still waits from an earlier run is not enqueued twice.
            jobs = [
                enqueue(
                    ChainBlockReplay,
                    {"height": height, "network": settings.network},
                    unique_key=f"{settings.network}:{height}",
                    created_by=f"job:{ctx.job_id}",
                )
                for height in (gap.heights if gap else ())
            ]
        new = sum(1 for j in jobs if not j.is_duplicate)
        behind = tip.height - (state.last_height if state.last_height is not None else tip.height)
        return JobResult.ok(
            f"tip {tip.height}, {behind} behind, {new} replay(s) enqueued",
            data={"tip": tip.height, "last_height": state.last_height},
            behind=behind,
            enqueued=new,
        )
