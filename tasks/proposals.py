"""Governance of DAO proposals: `dao_proposal_evaluation`, `dao_proposal_vote`, `dao_proposal_conclude`."""

from __future__ import annotations

import json
from typing import Any, Literal

import pydantic
from asgiref.sync import sync_to_async
from django.db import transaction

from jobqueue import BaseJob, JobContext, JobResult, PermanentError, Priority, RetryableError, SkipJob, job
from jobqueue.models import Job
from tasks.aibtc import functions, naming
from tasks.clients.llm import LLMClient, LLMSettings
from tasks.clients.transactions import TransactionClient, TransactionSettings
from tasks.events import voting_contract
from tasks.fields import Principal, RecordId
from tasks.governance import GovernanceSettings, chain_clock, wait_until
from tasks.models import Proposal, ProposalStatus, Vote
from tasks.partitions import ByServiceKey, agent_signer_label
from tasks.transaction_job import TX_CONFIRMATION, TransactionJob

EVALUATION_PROMPT = (
    "You evaluate governance proposals of a DAO against its mission. Answer with one JSON object "
    'and nothing else: {"decision": "approve" or "reject", "confidence": a number from 0 to 1, '
    '"reasoning": a short explanation}.'
)


class Evaluation(pydantic.BaseModel):
    """The answer the chat model must give; anything else is a malformed answer."""

    model_config = pydantic.ConfigDict(extra="ignore")

    decision: Literal["approve", "reject"]
    confidence: float = pydantic.Field(ge=0, le=1)
    reasoning: str = pydantic.Field(min_length=1, max_length=10_000)


def parse_evaluation(answer: str) -> Evaluation:
    """Validate the model's answer; a malformed one is retryable (the next answer may be fine)."""
    text = answer.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        return Evaluation.model_validate(json.loads(text))
    except (ValueError, pydantic.ValidationError) as exc:
        summary = exc.errors()[0]["msg"] if isinstance(exc, pydantic.ValidationError) else "not JSON"
        raise RetryableError(f"the chat model's answer is not a valid evaluation: {summary}") from None


class ProposalWallet(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    proposal_id: RecordId
    # The voter: an agent account (votes go through one), or a wallet for an evaluation only.
    wallet_address: Principal


class ByDao:
    """The proposal job types are partitioned by the proposal's DAO: their jobs are claimed
    round robin across DAOs, so one DAO's thousand proposals do not hold up another's."""

    def partition_key(self, payload: Any) -> str:
        dao = Proposal.objects.filter(pk=payload.proposal_id).values_list("dao_id", flat=True).first()
        return "" if dao is None else f"dao:{dao}"


async def _proposal(proposal_id: int) -> Proposal:
    proposal = await Proposal.objects.select_related("dao").filter(pk=proposal_id).afirst()
    if proposal is None:
        raise PermanentError(f"proposal {proposal_id} does not exist")
    return proposal


def _voting_target(proposal: Proposal) -> tuple[str, int]:
    """The voting extension that holds the proposal, and the proposal's id there."""
    voting = proposal.voting_contract or voting_contract(proposal.dao)
    if not voting or proposal.onchain_id is None:
        raise PermanentError(
            f"proposal {proposal.pk} has no on-chain id or its DAO no voting extension; it cannot be voted on"
        )
    return voting, proposal.onchain_id


@job(
    priority=Priority.HIGH,
    max_attempts=3,
    timeout=300,
    concurrency=2,
    partition_concurrency=1,
    enabled=False,
    requires=(TX_CONFIRMATION,),
)
class DaoProposalVote(TransactionJob):
    """Vote every unvoted Vote of a wallet on a proposal through the transaction service."""

    Payload = ProposalWallet

    def partition_key(self, payload: ProposalWallet) -> str:
        """The agent whose key signs the vote: one vote per sender at a time, so the service never
        has two of its transactions in flight (nonces are per sender; the service also signs one
        at a time per key and re-reads the nonce when the node refuses it)."""
        return agent_signer_label(payload.wallet_address)

    class Settings(TransactionSettings, GovernanceSettings):
        pass

    async def check_prerequisites(self, ctx: JobContext, payload: ProposalWallet) -> None:
        """Voting must be open: wait (no attempt used) until it opens, skip once it has closed."""
        proposal = await _proposal(payload.proposal_id)
        if proposal.starts_at_block is None and proposal.ends_at_block is None:
            return  # a proposal recorded by hand: nothing to wait for
        clock = await chain_clock(ctx.settings)
        closes = proposal.ends_at_block
        if closes is not None and clock.burn_height is not None and clock.burn_height >= closes:
            raise SkipJob(
                f"too late to vote: voting closed at burn block {closes}, the chain is at {clock.burn_height}"
            )
        if proposal.starts_at_block is not None:
            wait_until(proposal.starts_at_block, "voting opens", ctx.settings, clock)

    async def execute(self, ctx: JobContext, payload: ProposalWallet) -> JobResult:
        proposal = await _proposal(payload.proposal_id)
        mine = Vote.objects.filter(proposal=proposal, wallet_address=payload.wallet_address)
        # Votes broadcast by an earlier attempt that died before its success was recorded: their
        # confirmations died with it. Follow them again (a waiting follow-up makes it a no-op).
        async for vote in mine.filter(voted=True, tx_status="").exclude(tx_id=""):
            self.follow(ctx, vote.tx_id, "vote", vote.pk)
        votes = [v async for v in mine.filter(voted=False, abstain_reason="")]
        if not votes:
            return JobResult.ok("nothing to vote", voted=0)
        voting, onchain_id = _voting_target(proposal)
        client = TransactionClient.from_settings(ctx.settings)
        for vote in votes:
            try:
                arguments = functions.vote_arguments(vote.wallet_address, voting, onchain_id, vote.approve)
            except naming.NamingError as exc:
                raise PermanentError(f"{exc}; deploy an agent account for this wallet (agent_account_deploy)") from None
            # A 403 (no key for the account's agent) is a PermanentError: the job's dead letter says so.
            receipt = await client.call("vote", arguments, idempotency_key=f"vote:{vote.pk}")
            if receipt.failed:
                raise PermanentError(f"the transaction service refused the vote: {receipt.reason or receipt.status}")
            if not receipt.broadcast:
                raise RetryableError(f"the vote is {receipt.status}, not broadcast yet")
            # Committed at once: a retry after a failure further on skips this vote.
            await Vote.objects.filter(pk=vote.pk).aupdate(voted=True, tx_id=receipt.tx_id)
            self.follow(ctx, receipt.tx_id, "vote", vote.pk)
        return JobResult.ok(f"voted {len(votes)}", data={"vote_ids": [v.pk for v in votes]}, voted=len(votes))


@job(priority=Priority.HIGH, max_attempts=3, timeout=180, concurrency=2, enabled=False, requires=(DaoProposalVote,))
class DaoProposalEvaluation(ByDao, BaseJob):
    """Have the chat model evaluate a proposal for a wallet, record an unvoted Vote, and enqueue the vote."""

    Payload = ProposalWallet

    class Settings(LLMSettings, GovernanceSettings):
        confidence_threshold: float = pydantic.Field(
            default=0.7, ge=0, le=1, description="vote only when the model is at least this confident"
        )

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        LLMClient.from_settings(ctx.settings)

    async def hand_over(self, ctx: JobContext, proposal: Proposal, follow_up: dict[str, Any]) -> None:
        """Enqueue the vote, scheduled for when voting opens (estimated; the vote checks again when
        it runs); in a proposal's lifecycle workflow its vote is already the next step."""
        if await Job.objects.filter(pk=ctx.job_id, workflow_id__isnull=False).aexists():
            return
        options = {}
        if proposal.starts_at_block is not None and ctx.settings.chain_api_url:
            options["run_after"] = (await chain_clock(ctx.settings)).when(proposal.starts_at_block)
        ctx.enqueue(DaoProposalVote, follow_up, **options)

    async def execute(self, ctx: JobContext, payload: ProposalWallet) -> JobResult:
        proposal = await _proposal(payload.proposal_id)
        # This wallet's vote, if an earlier attempt whose success was not recorded made it.
        existing = await Vote.objects.filter(proposal=proposal, wallet_address=payload.wallet_address).afirst()
        follow_up = {"proposal_id": proposal.pk, "wallet_address": payload.wallet_address}
        if existing is not None:
            # Evaluated by an earlier attempt whose success was not recorded: just hand over again.
            if not existing.voted and not existing.abstain_reason:
                await self.hand_over(ctx, proposal, follow_up)
            return JobResult.ok("already evaluated", data={"vote_id": existing.pk})
        answer = await LLMClient.from_settings(ctx.settings).chat(
            ctx.settings.chat_model,
            EVALUATION_PROMPT,
            f"DAO: {proposal.dao.name}\nMission: {proposal.dao.mission}\n\n"
            f"Proposal: {proposal.title}\n\n{proposal.content}",
            json_answer=True,
        )
        evaluation = parse_evaluation(answer)
        threshold = ctx.settings.confidence_threshold
        abstain = (
            f"confidence {evaluation.confidence:g} is below the threshold {threshold:g}"
            if evaluation.confidence < threshold
            else ""
        )
        vote = await sync_to_async(self.record)(proposal, payload, evaluation, abstain)
        if abstain:
            return JobResult.ok(f"abstained: {abstain}", data={"vote_id": vote.pk, **evaluation.model_dump()})
        await self.hand_over(ctx, proposal, follow_up)
        return JobResult.ok(
            f"evaluated: {evaluation.decision}",
            data={"vote_id": vote.pk, **evaluation.model_dump()},
        )

    def record(self, proposal: Proposal, payload: ProposalWallet, evaluation: Evaluation, abstain: str) -> Vote:
        with transaction.atomic():
            vote = Vote.objects.create(
                proposal=proposal,
                wallet_address=payload.wallet_address,
                approve=evaluation.decision == "approve",
                confidence=evaluation.confidence,
                reasoning=evaluation.reasoning,
                abstain_reason=abstain,
            )
            Proposal.objects.filter(pk=proposal.pk).update(evaluated=True, evaluation_summary=evaluation.reasoning)
        return vote


@job(
    priority=Priority.MEDIUM,
    max_attempts=5,
    timeout=180,
    concurrency=1,
    partition_concurrency=1,
    enabled=False,
    requires=(TX_CONFIRMATION,),
)
class DaoProposalConclude(ByServiceKey, TransactionJob):
    """Conclude a proposal on the chain; succeeds only once the transaction service confirms the broadcast."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        proposal_id: RecordId

    class Settings(TransactionSettings, GovernanceSettings):
        pass

    async def check_prerequisites(self, ctx: JobContext, payload: Payload) -> None:
        """Wait (no attempt used) until voting has ended plus the execution delay."""
        proposal = await _proposal(payload.proposal_id)
        ready_at = proposal.executes_at_block if proposal.executes_at_block is not None else proposal.ends_at_block
        if ready_at is None or proposal.conclusion_tx_id:
            return
        wait_until(ready_at, "the proposal can be concluded", ctx.settings, await chain_clock(ctx.settings))

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        proposal = await _proposal(payload.proposal_id)
        if proposal.conclusion_tx_id:
            if not proposal.conclusion_tx_status:  # no final status yet: make sure it is followed
                self.follow(ctx, proposal.conclusion_tx_id, "conclusion", proposal.pk)
            return JobResult.ok("already concluded", data={"tx_id": proposal.conclusion_tx_id})
        voting, onchain_id = _voting_target(proposal)
        if not proposal.action_contract:
            raise PermanentError(
                f"proposal {proposal.pk} has no action contract (read from its creation event): the contract "
                "refuses a conclusion without it; replay the block that created it"
            )
        receipt = await TransactionClient.from_settings(ctx.settings).call(
            "conclude",
            functions.conclude_arguments(voting, onchain_id, proposal.action_contract),
            idempotency_key=f"conclude:{proposal.pk}",
        )
        if receipt.failed:
            raise PermanentError(f"the transaction service refused the conclusion: {receipt.reason or receipt.status}")
        if not receipt.broadcast:
            raise RetryableError(f"the conclusion is {receipt.status}, not broadcast yet")
        await Proposal.objects.filter(pk=proposal.pk).aupdate(
            conclusion_tx_id=receipt.tx_id, status=ProposalStatus.CONCLUDED
        )
        self.follow(ctx, receipt.tx_id, "conclusion", proposal.pk)
        return JobResult.ok("concluded", data={"tx_id": receipt.tx_id})
