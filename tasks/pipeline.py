"""What a transaction on the chain means for this deployment's records, and the jobs that follow.

`apply_transactions` is the one place that reads the chain's effects: block replays,
chainhook deliveries and transaction confirmations all call it. Every change is a guarded
state transition (create if absent, flip a flag only if unflipped), so applying the same
transactions again changes nothing and enqueues nothing. Call it inside a transaction: the
rows and the follow-up jobs commit together; from async code, through `applied`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db.models import Q
from django.utils import timezone

from jobqueue import enqueue
from tasks import events
from tasks.chaindata import SUCCESS, ChainTx, is_failure
from tasks.governance import Clock
from tasks.models import DAO, AgentAccount, Proposal, ProposalStatus, Vote
from tasks.proposals import DaoProposalConclude, DaoProposalEvaluation
from tasks.social import DaoDeploymentTweet, Tweet
from tasks.webhooks import Discord

T = TypeVar("T")


@dataclass
class Outcome:
    """What applying transactions did; the job's result data."""

    proposals: list[int] = field(default_factory=list)
    votes: list[int] = field(default_factory=list)
    concluded: list[int] = field(default_factory=list)
    daos_deployed: list[int] = field(default_factory=list)
    accounts_deployed: list[int] = field(default_factory=list)
    failed_txs: list[str] = field(default_factory=list)
    enqueued: int = 0

    def as_data(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value}

    def summary(self) -> str:
        parts = [f"{len(v)} {k.replace('_', ' ')}" for k, v in self.__dict__.items() if isinstance(v, list) and v]
        return ", ".join(parts) + f"; {self.enqueued} job(s) enqueued" if parts else "nothing of ours"


def contracts_of_interest() -> set[str]:
    """The contracts whose transactions' print events the pipeline reads."""
    daos = DAO.objects.exclude(dao_contract="").values_list("dao_contract", flat=True)
    accounts = AgentAccount.objects.exclude(account_contract="").values_list("account_contract", flat=True)
    return set(daos) | set(accounts)


def apply_transactions(txs: list[ChainTx], *, clock: Callable[[], Clock], created_by: str) -> Outcome:
    """Apply the effects of `txs` (in block order); `clock` is asked only when a proposal needs scheduling."""
    outcome = Outcome()
    daos = {dao.dao_contract: dao for dao in DAO.objects.exclude(dao_contract="")}
    for tx in txs:
        _record_status(tx, outcome, created_by)
        if tx.status != SUCCESS:
            continue
        for printed in tx.prints:
            dao = daos.get(printed.contract_id)
            event = events.parse(printed.hex) if dao is not None else None
            if dao is None or event is None:
                continue
            if isinstance(event, events.ProposalCreated):
                _proposal_created(dao, event, tx, clock, outcome, created_by)
            elif isinstance(event, events.VoteCast):
                _vote_cast(dao, event, tx, outcome)
            else:
                _proposal_concluded(dao, event, tx, outcome, created_by)
    return outcome


class ClockNeeded(Exception):
    """The transactions being applied create a proposal, whose conclusion needs the chain's clock."""


def _clock_later() -> Clock:
    raise ClockNeeded


async def applied(apply: Callable[[Callable[[], Clock]], T], clock: Clock | Callable[[], Awaitable[Clock]]) -> T:
    """Run `apply(clock)`, a sync function that calls `apply_transactions` in one transaction, from
    an async job.

    The chain's clock is read from the chain API, which an async job awaits on its loop, never
    inside the transaction (held in Django's thread, which every job of the loop shares). So when
    the clock is not known yet, `apply` first runs without it; if it asks for it, its transaction
    rolls back, the clock is read, and `apply` runs again: the first pass leaves nothing behind,
    and transactions that create no proposal cost no request."""
    if isinstance(clock, Clock):
        known = clock
        return await sync_to_async(apply)(lambda: known)
    try:
        return await sync_to_async(apply)(_clock_later)
    except ClockNeeded:
        read = await clock()
        return await sync_to_async(apply)(lambda: read)


def _record_status(tx: ChainTx, outcome: Outcome, created_by: str) -> None:
    """Our own transactions (deployments, votes, conclusions) reached a final status."""
    if tx.status != SUCCESS and not is_failure(tx.status):
        return
    ok = tx.status == SUCCESS
    deployed = Q(deployment_tx_id=tx.tx_id)
    if ok and tx.kind == "smart_contract":
        deployed |= Q(dao_contract=tx.contract_id)
    for dao in DAO.objects.filter(deployed):
        DAO.objects.filter(pk=dao.pk).update(deployment_tx_status=tx.status)
        if ok:
            confirm_deployment(dao, outcome, created_by)
        elif DAO.objects.filter(pk=dao.pk, is_deployed=False).update(is_broadcast=False):
            outcome.failed_txs.append(tx.tx_id)
    accounts = Q(tx_id=tx.tx_id)
    if ok and tx.kind == "smart_contract":
        accounts |= Q(account_contract=tx.contract_id)
    for account in AgentAccount.objects.filter(accounts).filter(~Q(tx_status=tx.status)):
        AgentAccount.objects.filter(pk=account.pk).update(tx_status=tx.status, is_deployed=ok)
        if ok:
            outcome.accounts_deployed.append(account.pk)
        else:
            outcome.failed_txs.append(tx.tx_id)
    if Vote.objects.filter(tx_id=tx.tx_id).exclude(tx_status=tx.status).update(tx_status=tx.status) and not ok:
        outcome.failed_txs.append(tx.tx_id)
    if (
        Proposal.objects.filter(conclusion_tx_id=tx.tx_id)
        .exclude(conclusion_tx_status=tx.status)
        .update(conclusion_tx_status=tx.status)
        and not ok
    ):
        outcome.failed_txs.append(tx.tx_id)


def confirm_deployment(dao: DAO, outcome: Outcome, created_by: str) -> None:
    """Mark a DAO deployed once, and enqueue its launch post with that change."""
    if DAO.objects.filter(pk=dao.pk, is_deployed=False).update(is_deployed=True, is_broadcast=True):
        enqueue(DaoDeploymentTweet, {"dao_id": dao.pk}, created_by=created_by)
        outcome.daos_deployed.append(dao.pk)
        outcome.enqueued += 1


def voters_of(dao: DAO) -> list[str]:
    """The wallets that vote on the DAO's proposals: owners of its deployed agent accounts."""
    if not dao.token_contract:
        return []
    accounts = AgentAccount.objects.filter(dao_token_contract=dao.token_contract, is_deployed=True)
    return sorted(set(accounts.values_list("owner_address", flat=True)))


def _proposal_created(
    dao: DAO, event: events.ProposalCreated, tx: ChainTx, clock: Callable[[], Clock], outcome: Outcome, created_by: str
) -> None:
    title = (event.memo.splitlines()[0][:200] if event.memo.strip() else "") or f"Proposal {event.onchain_id}"
    proposal, created = Proposal.objects.get_or_create(
        dao=dao,
        onchain_id=event.onchain_id,
        defaults={
            "title": title,
            "content": event.memo or f"Proposal {event.onchain_id} of {dao.name}, created by {event.creator}.",
            "creator": event.creator,
            "created_tx_id": tx.tx_id,
            "created_at_block": event.created_at,
            "starts_at_block": event.starts_at,
            "ends_at_block": event.ends_at,
            "executes_at_block": event.executes_at,
        },
    )
    if not created:
        return
    outcome.proposals.append(proposal.pk)
    for wallet in voters_of(dao):
        enqueue(DaoProposalEvaluation, {"proposal_id": proposal.pk, "wallet_address": wallet}, created_by=created_by)
        outcome.enqueued += 1
    conclude_at = clock().when(event.executes_at if event.executes_at is not None else event.ends_at)
    enqueue(
        DaoProposalConclude,
        {"proposal_id": proposal.pk},
        run_after=conclude_at,
        unique_key=f"conclude:{proposal.pk}",
        created_by=created_by,
    )
    outcome.enqueued += 1


def _vote_cast(dao: DAO, event: events.VoteCast, tx: ChainTx, outcome: Outcome) -> None:
    proposal = Proposal.objects.filter(dao=dao, onchain_id=event.onchain_id).first()
    if proposal is None:
        return
    vote, created = Vote.objects.get_or_create(
        proposal=proposal,
        wallet_address=event.voter,
        defaults={"approve": event.approve, "voted": True, "tx_id": tx.tx_id, "tx_status": SUCCESS},
    )
    if created or Vote.objects.filter(pk=vote.pk).exclude(voted=True, tx_status=SUCCESS).update(
        voted=True, tx_status=SUCCESS, tx_id=vote.tx_id or tx.tx_id
    ):
        outcome.votes.append(vote.pk)


def _proposal_concluded(
    dao: DAO, event: events.ProposalConcluded, tx: ChainTx, outcome: Outcome, created_by: str
) -> None:
    proposal = Proposal.objects.filter(dao=dao, onchain_id=event.onchain_id).first()
    if proposal is None:
        return
    status = ProposalStatus.PASSED if event.passed else ProposalStatus.FAILED
    Proposal.objects.filter(pk=proposal.pk).update(
        status=status, conclusion_tx_id=proposal.conclusion_tx_id or tx.tx_id, conclusion_tx_status=SUCCESS
    )
    announce(proposal, dao, status, outcome, created_by)


def announce(proposal: Proposal, dao: DAO, status: str, outcome: Outcome, created_by: str) -> None:
    """Enqueue the conclusion's Discord post and tweet, once per proposal whatever reports it."""
    if not Proposal.objects.filter(pk=proposal.pk, announced_at__isnull=True).update(announced_at=timezone.now()):
        return
    verdict = "passed" if status == ProposalStatus.PASSED else "failed"
    text = f"{dao.name} proposal #{proposal.onchain_id} {verdict}: {proposal.title}"
    enqueue(Discord, {"content": text[:2000], "proposal_status": verdict}, created_by=created_by)
    enqueue(Tweet, {"text": text, "dao_id": dao.pk}, created_by=created_by)
    outcome.concluded.append(proposal.pk)
    outcome.enqueued += 2
