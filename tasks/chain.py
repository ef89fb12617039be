"""Following the chain: `chain_state_monitor` (scheduled), the `chain_block_replay` job it enqueues
(the print events of our contracts read back from the Stacks API), and `chainhook_block` (one per
block a chainhook delivers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

import pydantic
from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from jobqueue import BaseJob, JobContext, JobResult, PermanentError, Priority, RetryableError, SkipJob, Unique, job
from tasks.chaindata import ChainBlock
from tasks.clients.chain import Block, ChainApiSettings, ChainClient
from tasks.events import KnownContracts
from tasks.governance import Clock, GovernanceSettings, chain_clock
from tasks.models import AppliedBlock, ChainState, ContractCursor
from tasks.partitions import ByChainApiKey
from tasks.pipeline import Outcome, applied, apply_transactions
from tasks.replay import Moved, read_new
from tasks.rollback import Undone, rollback_block

NETWORK = pydantic.Field(default="mainnet", pattern=r"^[a-z][a-z0-9-]{0,19}$")


def process_block(block: ChainBlock, network: str, clock: Callable[[], Clock]) -> Outcome:
    """Apply a block's transactions and account for it in ChainState, in one transaction.

    The only way ChainState advances past a block: its transactions are applied with it."""
    with transaction.atomic():
        outcome = apply_transactions(block.txs, clock=clock, created_by=f"block:{block.hash}", block_hash=block.hash)
        advance(network, block.height, block.hash)
    return outcome


def advance(network: str, height: int, block_hash: str, *, read_through: bool = False) -> None:
    """Count the block as applied. ChainState moves only over a contiguous run of applied blocks:
    a block applied ahead of it (a chainhook delivers only the blocks it matches) is remembered as
    an AppliedBlock until the blocks before it are applied, and `held_at` names the first block
    still missing. With `read_through`, every block up to `height` is known applied (a replay read
    every event of ours up to it). Call inside a transaction."""
    ChainState.objects.get_or_create(network=network)
    state = ChainState.objects.select_for_update().get(network=network)
    if state.last_height is not None and height <= state.last_height:
        return
    if not read_through and state.last_height is not None and height > state.last_height + 1:
        AppliedBlock.objects.get_or_create(network=network, height=height, defaults={"block_hash": block_hash})
        ChainState.objects.filter(pk=state.pk).update(held_at=state.last_height + 1, updated_at=timezone.now())
        return
    top, top_hash = height, block_hash
    ahead = dict(AppliedBlock.objects.filter(network=network, height__gt=height).values_list("height", "block_hash"))
    while top + 1 in ahead:
        top += 1
        top_hash = ahead[top]
    AppliedBlock.objects.filter(network=network, height__lte=top).delete()
    held = top + 1 if any(h > top for h in ahead) else None
    ChainState.objects.filter(pk=state.pk).update(
        last_height=top, block_hash=top_hash, held_at=held, updated_at=timezone.now()
    )


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


def load_cursors(network: str) -> dict[str, ContractCursor]:
    return {cursor.contract_id: cursor for cursor in ContractCursor.objects.filter(network=network)}


def apply_replayed(block: ChainBlock, network: str, moves: dict[str, Moved], clock: Callable[[], Clock]) -> Outcome:
    """Apply a replayed block's events, move the cursors of the contracts that printed in it, and
    advance ChainState through it (every event of ours up to it has been read), in one transaction."""
    with transaction.atomic():
        outcome = apply_transactions(block.txs, clock=clock, created_by=f"block:{block.hash}", block_hash=block.hash)
        for contract, moved in moves.items():
            height, tx_index, event_index = moved.place
            ContractCursor.objects.update_or_create(
                network=network,
                contract_id=contract,
                defaults={
                    "height": height,
                    "tx_index": tx_index,
                    "event_index": event_index,
                    "tx_id": moved.tx_id,
                    "updated_at": timezone.now(),
                },
            )
        advance(network, block.height, block.hash, read_through=True)
    return outcome


def read_through(network: str, height: int, block_hash: str) -> None:
    with transaction.atomic():
        advance(network, height, block_hash, read_through=True)


def hold(network: str, height: int) -> None:
    """A replayed block failed: the state waits for it (shown in the admin)."""
    ChainState.objects.filter(network=network).update(held_at=height, updated_at=timezone.now())


@job(
    priority=Priority.NORMAL,
    max_attempts=5,
    timeout=300,
    # One replay per network at a time: the cursors are its state. A replay asked for while one
    # waits or runs is that one.
    concurrency=1,
    unique=Unique(fields=("network",)),
    enabled=False,
)
class ChainBlockReplay(ByChainApiKey, BaseJob):
    """Read the print events of every contract we know (voting extensions, agent accounts) since
    each one's cursor from the chain API, and apply them block by block in chain order."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        network: str = NETWORK

    class Settings(GovernanceSettings):
        pass

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        if not ctx.settings.chain_api_url:
            raise PermanentError("set the chain_api_url setting of job type 'chain_block_replay'")

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        client = ChainClient.from_settings(ctx.settings)
        network = payload.network
        tip = await client.tip()
        known = await sync_to_async(KnownContracts.load)()
        cursors = await sync_to_async(load_cursors)(network)
        replay = await read_new(client, known.all(), cursors, tip.height)
        total = Outcome(prints_not_understood=list(replay.not_understood))
        for block in replay.blocks:
            try:
                outcome = await applied(
                    partial(apply_replayed, block, network, replay.moves[block.height]), clock_for(ctx.settings, block)
                )
            except Exception:
                await sync_to_async(hold)(network, block.height)
                raise
            total.add(outcome)
        await sync_to_async(read_through)(network, tip.height, tip.hash)
        summary = total.summary() if replay.events else "nothing new"
        return JobResult.ok(
            f"up to block {tip.height}: {len(known.all())} contract(s), {replay.events} new print(s) in "
            f"{len(replay.blocks)} block(s): {summary}",
            data={
                "up_to": tip.height,
                "contracts": len(known.all()),
                "prints": replay.events,
                "blocks": [block.height for block in replay.blocks],
                **total.as_data(),
            },
            enqueued=total.enqueued,
            not_understood=len(total.prints_not_understood),
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


def is_behind(state: ChainState, tip: int, threshold: int) -> bool:
    """More than `threshold` blocks behind the tip (never on the first run, which starts at it)."""
    return state.last_height is not None and tip - state.last_height > threshold


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
class ChainStateMonitor(ByChainApiKey, BaseJob):
    """Compare the chain tip with ChainState; when too far behind, enqueue a replay of the network."""

    class Settings(ChainApiSettings):
        network: str = NETWORK
        behind_threshold: int = pydantic.Field(default=3, ge=0, description="blocks behind before replaying")
        stale_after_seconds: float = pydantic.Field(default=300.0, gt=0)

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        if not ctx.settings.chain_api_url:
            # Enabled by default but inert until configured: skipped, not failed.
            raise SkipJob("not configured: set the chain_api_url setting of job type 'chain_state_monitor'")

    async def execute(self, ctx: JobContext, payload: object) -> JobResult:
        settings = ctx.settings
        state, _ = await ChainState.objects.aget_or_create(network=settings.network)
        client = ChainClient.from_settings(settings)
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
        behind = tip.height - (state.last_height if state.last_height is not None else tip.height)
        replay = is_behind(state, tip.height, settings.behind_threshold)
        new = await sync_to_async(self.record_tip)(ctx, state, tip, replay)
        return JobResult.ok(
            f"tip {tip.height}, {behind} behind, {new} replay(s) enqueued",
            data={"tip": tip.height, "last_height": state.last_height},
            behind=behind,
            enqueued=new,
        )

    def record_tip(self, ctx: JobContext, state: ChainState, tip: Block, replay: bool) -> int:
        """Mark the state healthy and enqueue the replay if asked, in one transaction; the number enqueued."""
        from jobqueue import enqueue

        settings = ctx.settings
        with transaction.atomic():
            changes: dict[str, object] = {"last_ok_at": timezone.now(), "is_stale": False, "last_error": ""}
            if state.last_height is None:  # first run: follow from the tip on (see chain_block_replay)
                changes.update(last_height=tip.height, block_hash=tip.hash)
            ChainState.objects.filter(pk=state.pk).update(**changes)
            if not replay:
                return 0
            # Unique per network: a replay still waiting or running is not enqueued twice.
            job = enqueue(ChainBlockReplay, {"network": settings.network}, created_by=f"job:{ctx.job_id}")
        return 0 if job.is_duplicate else 1
