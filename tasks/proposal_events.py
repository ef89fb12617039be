"""What the voting extension's notifications mean for our records: proposals, votes, vetoes, conclusions.

Every change is guarded (create if absent, update only what differs), so applying the same
notification twice changes nothing. A vote, veto or conclusion of a proposal not recorded yet
is parked (`ParkedEvent`) and applied, in the order read, when its proposal is recorded; it is
never dropped. Call inside a transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jobqueue import Workflow, needs
from jobqueue.config.effective import type_state
from jobqueue.models import ACTIVE, Job
from tasks.aibtc import notifications as n
from tasks.announcements import DaoProposalAnnouncement, announce
from tasks.chaindata import SUCCESS
from tasks.events import voting_contract
from tasks.governance import Clock
from tasks.models import DAO, AgentAccount, ParkedEvent, Proposal, ProposalStatus, Veto, Vote
from tasks.outcome import Outcome
from tasks.proposals import DaoProposalConclude, DaoProposalEvaluation, DaoProposalVote

PARKABLE: dict[str, type[n.Notification]] = {
    n.VoteCast.EVENT: n.VoteCast,
    n.VetoCast.EVENT: n.VetoCast,
    n.ProposalConcluded.EVENT: n.ProposalConcluded,
}


@dataclass
class Applying:
    """The transaction being applied: where its events came from and what they did."""

    tx_id: str
    block_hash: str
    clock: Callable[[], Clock]
    outcome: Outcome
    created_by: str
    concluded: Proposal | None = None  # the proposal this transaction concluded (for an execution error)


def apply_event(dao: DAO, event: n.DaoEvent, at: Applying) -> None:
    if isinstance(event, n.ProposalCreated):
        proposal_created(dao, event, at)
        return
    if isinstance(event, n.ExecutionFailed):
        if at.concluded is not None:
            Proposal.objects.filter(pk=at.concluded.pk).update(execution_error=event.error)
        return
    proposal = Proposal.objects.filter(dao=dao, onchain_id=event.proposal_id).first()
    if proposal is None:
        _park(dao, event, at)
    elif isinstance(event, n.VoteCast):
        vote_cast(proposal, event, at.tx_id, at.outcome)
    elif isinstance(event, n.VetoCast):
        veto_cast(proposal, event, at.tx_id, at.outcome)
    else:
        at.concluded = proposal
        proposal_concluded(proposal, dao, event, at.tx_id, at.outcome, at.created_by)


def _park(dao: DAO, event: n.VoteCast | n.VetoCast | n.ProposalConcluded, at: Applying) -> None:
    _, created = ParkedEvent.objects.get_or_create(
        dao=dao,
        onchain_id=event.proposal_id,
        event=event.EVENT,
        tx_id=at.tx_id,
        defaults={"data": n.as_data(event), "block_hash": at.block_hash},
    )
    if created:
        at.outcome.parked.append(f"{event.EVENT} of proposal {event.proposal_id} ({at.tx_id})")


def voters_of(dao: DAO) -> list[str]:
    """The voters on the DAO's proposals: its deployed agent accounts with an agent, whose key
    signs the votes (the account's tokens are the voting power)."""
    if not dao.token_contract:
        return []
    accounts = AgentAccount.objects.filter(dao_token_contract=dao.token_contract, is_deployed=True)
    accounts = accounts.exclude(agent_address="").exclude(account_contract="")
    return sorted(set(accounts.values_list("account_contract", flat=True)))


def proposal_created(dao: DAO, event: n.ProposalCreated, at: Applying) -> None:
    said = n.proposal_text(event.parameters)
    first_line = said.text.strip().splitlines()[0][:200] if said.text.strip() else ""
    proposal, created = Proposal.objects.get_or_create(
        dao=dao,
        onchain_id=event.proposal_id,
        defaults={
            "title": (said.title or first_line or f"Proposal {event.proposal_id}")[:255],
            "content": said.text,
            "tags": list(said.tags),
            "voting_contract": voting_contract(dao),
            "action_contract": event.action,
            "parameters": "0x" + event.parameters.hex(),
            "memo": event.memo or "",
            "creator": event.creator,
            "caller": event.caller,
            "contract_caller": event.contract_caller,
            "tx_sender": event.tx_sender,
            "bond": event.bond,
            "liquid_tokens": event.liquid_tokens,
            "voting_delay": event.voting_delay,
            "voting_period": event.voting_period,
            "voting_quorum": event.voting_quorum,
            "voting_threshold": event.voting_threshold,
            "voting_reward": event.voting_reward,
            "created_tx_id": at.tx_id,
            "created_at_block": event.created_btc,
            "created_at_stacks_block": event.created_stx,
            "starts_at_block": event.vote_start,
            "ends_at_block": event.vote_end,
            "executes_at_block": event.exec_start,
            "exec_end_block": event.exec_end,
        },
    )
    if not created:
        return
    outcome = at.outcome
    outcome.proposals.append(proposal.pk)
    flow = lifecycle(proposal, voters_of(dao), at.clock(), at.created_by)
    flow.enqueue()
    Proposal.objects.filter(pk=proposal.pk).update(workflow_id=flow.id)
    outcome.enqueued += len(flow.steps)
    _unpark(dao, proposal, at)


def lifecycle(proposal: Proposal, voters: list[str], clock: Clock, created_by: str) -> Workflow:
    """The proposal's lifecycle as one workflow: each voter's evaluation, then its vote (when
    voting opens); the conclusion (when execution opens) after every vote, whether or not it
    went through; then the announcement, once the chain has recorded the conclusion. The one
    place a conclusion of a proposal read from the chain is scheduled."""
    flow = Workflow()
    votes = []
    for wallet in voters:
        payload = {"proposal_id": proposal.pk, "wallet_address": wallet}
        evaluation = flow.add(DaoProposalEvaluation, payload, key=f"evaluation {wallet}", created_by=created_by)
        vote = flow.add(
            DaoProposalVote,
            payload,
            after=[evaluation],
            key=f"vote {wallet}",
            run_after=clock.when(proposal.starts_at_block),
            created_by=created_by,
        )
        votes.append(needs(vote, ignore_failure=True))
    conclusion = flow.add(
        DaoProposalConclude,
        {"proposal_id": proposal.pk},
        after=votes,
        key="conclusion",
        run_after=clock.when(proposal.executes_at_block),
        created_by=created_by,
    )
    # Anyone may conclude on chain: the announcement waits for the chain's record, not our transaction.
    flow.add(
        DaoProposalAnnouncement,
        {"proposal_id": proposal.pk},
        after=[needs(conclusion, ignore_failure=True)],
        key="announcement",
        created_by=created_by,
    )
    return flow


def _unpark(dao: DAO, proposal: Proposal, at: Applying) -> None:
    """Apply what was read before the proposal, in the order it was read."""
    for parked in ParkedEvent.objects.filter(dao=dao, onchain_id=proposal.onchain_id).order_by("created_at", "pk"):
        event = n.from_data(PARKABLE[parked.event], parked.data)
        if isinstance(event, n.VoteCast):
            vote_cast(proposal, event, parked.tx_id, at.outcome)
        elif isinstance(event, n.VetoCast):
            veto_cast(proposal, event, parked.tx_id, at.outcome)
        elif isinstance(event, n.ProposalConcluded):
            proposal_concluded(proposal, dao, event, parked.tx_id, at.outcome, at.created_by)
        parked.delete()


def vote_cast(proposal: Proposal, event: n.VoteCast, tx_id: str, outcome: Outcome) -> None:
    """Record the vote the chain counted; our own vote (same transaction) is confirmed with it.
    A voter may vote again: the chain's latest decision and power replace the earlier ones."""
    mine = Vote.objects.filter(proposal=proposal, tx_id=tx_id).first()
    vote = mine or Vote.objects.filter(proposal=proposal, wallet_address=event.voter).first()
    if vote is None:
        vote = Vote.objects.create(
            proposal=proposal,
            wallet_address=event.voter,
            approve=event.vote,
            amount=event.amount,
            voted=True,
            tx_id=tx_id,
            tx_status=SUCCESS,
        )
        outcome.votes.append(vote.pk)
        return
    changes = {"approve": event.vote, "amount": event.amount, "voted": True, "tx_status": SUCCESS, "tx_id": tx_id}
    if any(getattr(vote, key) != value for key, value in changes.items()):
        Vote.objects.filter(pk=vote.pk).update(**changes)
        outcome.votes.append(vote.pk)


def veto_cast(proposal: Proposal, event: n.VetoCast, tx_id: str, outcome: Outcome) -> None:
    veto, created = Veto.objects.get_or_create(
        proposal=proposal, vetoer=event.vetoer, defaults={"amount": event.amount, "tx_id": tx_id}
    )
    if created:
        outcome.vetoes.append(veto.pk)


def proposal_concluded(
    proposal: Proposal, dao: DAO, event: n.ProposalConcluded, tx_id: str, outcome: Outcome, created_by: str
) -> None:
    status = ProposalStatus.PASSED if event.passed else ProposalStatus.FAILED
    first = Proposal.objects.filter(pk=proposal.pk).exclude(status=status).exists()
    Proposal.objects.filter(pk=proposal.pk).update(
        status=status,
        conclusion_tx_id=proposal.conclusion_tx_id or tx_id,
        conclusion_tx_status=SUCCESS,
        votes_for=event.votes_for,
        votes_against=event.votes_against,
        veto_votes=event.veto_votes,
        met_quorum=event.met_quorum,
        met_threshold=event.met_threshold,
        veto_met_quorum=event.veto_met_quorum,
        veto_exceeds_yes=event.veto_exceeds_yes,
        vetoed=event.vetoed,
        passed=event.passed,
        executed=event.executed,
        expired=event.expired,
        conclusion_status=event.status,
    )
    if announcement_pending(proposal):
        if first:  # its lifecycle's announcement step posts it
            outcome.concluded.append(proposal.pk)
    else:
        announce(proposal, dao, status, outcome, created_by)


def announcement_pending(proposal: Proposal) -> bool:
    """Whether the proposal's lifecycle has its announcement step released (its conclusion step
    ended) and not finished: it then posts, at its next check. Otherwise the reader posts, once
    (`announced_at`): a proposal read before workflows, a step cancelled or dead, a conclusion
    rolled back after the step ran, or one concluded on chain (by anyone) while the lifecycle's
    evaluations, votes or conclusion are still to run; the step then finds it announced."""
    workflow = Proposal.objects.filter(pk=proposal.pk).values_list("workflow_id", flat=True).first()
    if workflow is None or not type_state(DaoProposalAnnouncement.definition.name).config.enabled:
        return False
    steps = Job.objects.filter(workflow_id=workflow, job_type__name=DaoProposalAnnouncement.definition.name)
    return steps.filter(status__in=ACTIVE).exists()
