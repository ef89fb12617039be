"""A proposal's conclusion posts, and `dao_proposal_announcement`, the last step of its lifecycle.

Discord for every conclusion, X only when it passed, worded as the seed's backend words them:
Discord says approved or rejected with the vote's participation (votes cast over the liquid
tokens the proposal was created with) and approval (votes for over votes cast); X posts the
approved message, marked as approved by the proposal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pydantic
from django.db import transaction
from django.utils import timezone

from jobqueue import BaseJob, JobContext, JobResult, PermanentError, Priority, RateLimited, enqueue, job
from jobqueue.models import Job
from tasks.fields import RecordId
from tasks.models import DAO, Proposal, ProposalStatus
from tasks.outcome import Outcome
from tasks.proposals import ByDao
from tasks.social import Tweet
from tasks.webhooks import Discord

DISCORD_MAX_CHARS = 2000


@dataclass(frozen=True)
class ConclusionPosts:
    discord: str
    tweet: str | None  # None: nothing goes to X (the proposal failed)


def percent(part: int, whole: int) -> float:
    return part * 100 / whole if whole else 0.0


def conclusion_posts(proposal: Proposal, dao: DAO, passed: bool) -> ConclusionPosts:
    votes_for, votes_against = proposal.votes_for or 0, proposal.votes_against or 0
    cast = votes_for + votes_against
    figures = (
        f"Participation: {percent(cast, proposal.liquid_tokens or 0):.1f}%\nApproval: {percent(votes_for, cast):.1f}%"
    )
    head = (
        f"✅ Approved: proposal #{proposal.onchain_id}" if passed else f"🛑 Rejected: proposal #{proposal.onchain_id}"
    )
    room = DISCORD_MAX_CHARS - len(head) - len(dao.name) - len(figures) - 8
    discord = f"{head} of {dao.name}\n{proposal.title[: max(room, 0)]}\n\n{figures}"
    if not passed:
        return ConclusionPosts(discord, None)
    message = (proposal.content or proposal.title).strip()
    return ConclusionPosts(discord, f"{message}\n\napproved by proposal #{proposal.onchain_id} of {dao.name}")


def announce(proposal: Proposal, dao: DAO, status: str, outcome: Outcome, created_by: str) -> None:
    """Enqueue the conclusion's Discord post and tweet, once per proposal whatever reports it."""
    if not Proposal.objects.filter(pk=proposal.pk, announced_at__isnull=True).update(announced_at=timezone.now()):
        return
    passed = status == ProposalStatus.PASSED
    posts = conclusion_posts(Proposal.objects.get(pk=proposal.pk), dao, passed)
    verdict = "passed" if passed else "failed"
    enqueue(Discord, {"content": posts.discord, "proposal_status": verdict}, created_by=created_by)
    outcome.enqueued += 1
    if posts.tweet is not None:  # X hears of approved proposals only
        enqueue(Tweet, {"text": posts.tweet, "dao_id": dao.pk}, created_by=created_by)
        outcome.enqueued += 1
    outcome.concluded.append(proposal.pk)


CONCLUDED = (ProposalStatus.PASSED, ProposalStatus.FAILED)


# Enabled by default: it needs no settings (the posts it enqueues wait for their own types).
@job(priority=Priority.MEDIUM, max_attempts=3, timeout=60, concurrency=2, requires=(Discord, Tweet))
class DaoProposalAnnouncement(ByDao, BaseJob):
    """Post a proposal's conclusion once the chain has recorded it (whoever concluded it)."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        proposal_id: RecordId

    class Settings(pydantic.BaseModel):
        # A check is one read of the proposal's row, and the step waits only from the conclusion's
        # broadcast to its confirmation being read: check often, post soon after.
        wait_seconds: float = pydantic.Field(default=15.0, gt=0, description="between checks for the conclusion")
        give_up_after_seconds: float = pydantic.Field(
            default=14 * 24 * 3600.0, gt=0, description="no conclusion on the chain after this is a dead letter"
        )

    def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        proposal = Proposal.objects.select_related("dao").filter(pk=payload.proposal_id).first()
        if proposal is None:
            raise PermanentError(f"proposal {payload.proposal_id} does not exist")
        if proposal.status not in CONCLUDED:
            # Read from the chain's conclusion event (block replay, chainhook, tx_confirmation).
            started = Job.objects.filter(pk=ctx.job_id).values_list("created_at", flat=True).first()
            waited = timezone.now() - (started or timezone.now())
            if waited > timedelta(seconds=ctx.settings.give_up_after_seconds):
                raise PermanentError(f"proposal {proposal.pk} was not concluded on the chain within {waited}")
            raise RateLimited(
                f"proposal {proposal.pk}'s conclusion is not on the chain yet", after=ctx.settings.wait_seconds
            )
        outcome = Outcome()
        with transaction.atomic():
            announce(proposal, proposal.dao, proposal.status, outcome, f"job:{ctx.job_id}")
        if not outcome.enqueued:
            return JobResult.ok("already announced", data={"proposal_id": proposal.pk})
        return JobResult.ok(
            f"announced: {proposal.status}", data={"proposal_id": proposal.pk}, enqueued=outcome.enqueued
        )
