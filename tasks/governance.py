"""Governance timing: when voting on a proposal opens and closes, and when it can be concluded.

A proposal's heights are burn-block (Bitcoin) heights. The chain's current burn height and
the average time between burn blocks come from the Stacks API; jobs are enqueued for the
estimated time and check the real height again when they run, because blocks come
irregularly: too early, the job waits without spending an attempt (`RateLimited`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pydantic
from django.utils import timezone

from jobqueue import PermanentError, RateLimited
from tasks.clients.chain import ChainApiSettings, ChainClient
from tasks.models import Proposal


@dataclass(frozen=True)
class Clock:
    """The chain's current burn height and the time a burn block takes, for scheduling."""

    burn_height: int | None
    seconds_per_block: float

    def when(self, height: int | None, now: datetime | None = None) -> datetime:
        """The estimated time the chain reaches `height` (now when unknown or already reached)."""
        now = now or timezone.now()
        if height is None or self.burn_height is None or height <= self.burn_height:
            return now
        return now + timedelta(seconds=(height - self.burn_height) * self.seconds_per_block)


class GovernanceSettings(ChainApiSettings):
    seconds_per_burn_block: float = pydantic.Field(
        default=600.0, gt=0, description="used when the chain API gives no average (Bitcoin aims at 600 s)"
    )
    max_wait_seconds: float = pydantic.Field(
        default=3600.0, gt=0, description="a waiting job checks the chain height again at least this often"
    )


def has_heights(proposal: Proposal) -> bool:
    return proposal.starts_at_block is not None or proposal.executes_at_block is not None


async def chain_clock(settings: GovernanceSettings) -> Clock:
    """The current burn height and seconds per burn block, from the chain API."""
    if not settings.chain_api_url:
        raise PermanentError(
            "set the chain_api_url setting of this job type: the proposal has block heights to wait for"
        )
    client = ChainClient.from_settings(settings)
    tip = await client.tip()
    if tip.burn_height is None:
        raise PermanentError("the chain API's status has no chain_tip.burn_block_height")
    seconds = await client.seconds_per_burn_block() or settings.seconds_per_burn_block
    return Clock(tip.burn_height, seconds)


def wait_until(height: int, what: str, settings: GovernanceSettings, clock: Clock) -> None:
    """Raise RateLimited until the chain's burn height reaches `height`."""
    assert clock.burn_height is not None  # noqa: S101 - chain_clock guarantees it
    if clock.burn_height >= height:
        return
    blocks = height - clock.burn_height
    after = min(settings.max_wait_seconds, max(1.0, blocks * clock.seconds_per_block))
    raise RateLimited(f"{what} at burn block {height}, the chain is at {clock.burn_height}", after=after)
