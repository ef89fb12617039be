"""Following the chain: `chain_state_monitor` (scheduled), the `chain_block_replay` jobs it enqueues,
and `chainhook_block` (one per block a chainhook delivers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import pydantic
from asgiref.sync import sync_to_async
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobqueue import BaseJob, JobContext, JobResult, PermanentError, Priority, RetryableError, SkipJob, Unique, job
from tasks.chaindata import ChainBlock
from tasks.clients.chain import Block, ChainApiSettings, ChainClient
from tasks.governance import Clock, GovernanceSettings, chain_clock
from tasks.models import ChainState
from tasks.pipeline import Outcome, applied, apply_transactions, contracts_of_interest
from tasks.rollback import Undone, rollback_block

NETWORK = pydantic.Field(default="mainnet", pattern=r"^[a-z][a-z0-9-]{0,19}$")


def process_block(block: ChainBlock, network: str, clock: Callable[[], Clock]) -> Outcome:
    """Apply a block's transactions and move ChainState forward to it, in one transaction.

    The only way ChainState advances past a block: its transactions are applied with it."""
    with transaction.atomic():
        outcome = apply_transactions(block.txs, clock=clock, created_by=f"block:{block.hash}", block_hash=block.hash)
        ChainState.objects.get_or_create(network=network)
        # Blocks may be processed out of order: the state only ever moves forward.
        ChainState.objects.filter(network=network).filter(
            Q(last_height__lt=block.height) | Q(last_height__isnull=True)
        ).update(last_height=block.height, block_hash=block.hash, updated_at=timezone.now())
    return outcome


def roll_back(block: ChainBlock, network: str) -> Undone:
    """Undo a dropped block's effects, in one transaction."""
    with transaction.atomic():
        return rollback_block(block, network)


def clock_for(settings: GovernanceSettings, block: ChainBlock) -> Clock | Callable[[], Awaitable[Clock]]:
    """The chain API's clock when configured (read only if needed), else the block's own burn
    height and the default pace."""
    if settings.chain_api_url:
        return lambda: chain_clock(settings)
    return Clock(block.burn_height, settings.seconds_per_burn_block)


async def aprocess_block(block: ChainBlock, network: str, settings: GovernanceSettings) -> Outcome:
    """`process_block` from an async job."""
    return await applied(lambda clock: process_block(block, network, clock), clock_for(settings, block))


@job(priority=Priority.NORMAL, max_attempts=5, timeout=120, concurrency=4, enabled=False)
class ChainBlockReplay(BaseJob):
    """Process one block: read its transactions from the chain API, apply them, advance the ChainState."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        height: int = pydantic.Field(ge=0)
        network: str = NETWORK

    class Settings(GovernanceSettings):
        pass

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        if not ctx.settings.chain_api_url:
            raise PermanentError("set the chain_api_url setting of job type 'chain_block_replay'")

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        client = ChainClient(ctx.settings.chain_api_url, ctx.settings.chain_timeout_seconds)
        wanted = await sync_to_async(contracts_of_interest)()
        block = await client.block_with_transactions(payload.height, wanted)
        outcome = await aprocess_block(block, payload.network, ctx.settings)
        return JobResult.ok(
            f"block {block.height}: {outcome.summary()}",
            data={"height": block.height, "hash": block.hash, "transactions": len(block.txs), **outcome.as_data()},
            enqueued=outcome.enqueued,
            not_understood=len(outcome.prints_not_understood),
        )


@job(
    priority=Priority.HIGH,
    max_attempts=5,
    timeout=120,
    concurrency=1,
    enabled=False,
    # A redelivered block finds the first delivery's job (waiting, running or finished within a week).
    unique=Unique(period=7 * 24 * 3600),
)
class ChainhookBlock(BaseJob):
    """Apply or roll back one block a chainhook delivered (its transactions are in the payload)."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        hook: str = pydantic.Field(max_length=50)
        network: str = NETWORK
        action: Literal["apply", "rollback"]
        block: ChainBlock

    class Settings(GovernanceSettings):
        pass

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        block = payload.block
        if payload.action == "rollback":
            undone = await sync_to_async(roll_back)(block, payload.network)
            return JobResult.ok(undone.summary(), data={"height": block.height, "hash": block.hash, **undone.as_data()})
        # Async for the chain API's clock, which a block creating a proposal needs.
        outcome = await aprocess_block(block, payload.network, ctx.settings)
        return JobResult.ok(
            f"block {block.height}: {outcome.summary()}",
            data={"height": block.height, "hash": block.hash, **outcome.as_data()},
            enqueued=outcome.enqueued,
            not_understood=len(outcome.prints_not_understood),
        )


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

    async def execute(self, ctx: JobContext, payload: object) -> JobResult:
        settings = ctx.settings
        state, _ = await ChainState.objects.aget_or_create(network=settings.network)
        client = ChainClient(settings.chain_api_url, settings.chain_timeout_seconds)
        try:
            tip = await client.tip()
        except (RetryableError, PermanentError) as exc:
            now = timezone.now()
            stale = is_stale(state, now, settings.stale_after_seconds)
            await ChainState.objects.filter(pk=state.pk).aupdate(
                is_stale=stale, last_error=str(exc)[:1000], updated_at=now
            )
            if stale and not state.is_stale:
                ctx.log.error("chain state of %s is stale: %s", settings.network, exc)
            raise
        gap = replay_gap(state, tip.height, settings.behind_threshold, settings.max_replays_per_run)
        new = await sync_to_async(self.record_tip)(ctx, state, tip, gap)
        behind = tip.height - (state.last_height if state.last_height is not None else tip.height)
        return JobResult.ok(
            f"tip {tip.height}, {behind} behind, {new} replay(s) enqueued",
            data={"tip": tip.height, "last_height": state.last_height},
            behind=behind,
            enqueued=new,
        )

    def record_tip(self, ctx: JobContext, state: ChainState, tip: Block, gap: Gap | None) -> int:
        """Mark the state healthy and enqueue the gap's replays, in one transaction; the number enqueued."""
        from jobqueue import enqueue

        settings = ctx.settings
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
        return sum(1 for j in jobs if not j.is_duplicate)
