"""What a transaction on the chain means for this deployment's records, and the jobs that follow.

`apply_transactions` is the one place that reads the chain's effects: block replays,
chainhook deliveries and transaction confirmations all call it. Every change is a guarded
state transition (create if absent, flip a flag only if unflipped), so applying the same
transactions again changes nothing and enqueues nothing. Call it inside a transaction: the
rows and the follow-up jobs commit together; from async code, through `applied`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.db.models import Q

from jobqueue import enqueue
from tasks.chaindata import SUCCESS, ChainTx, is_failure
from tasks.events import KnownContracts, PrintsRead, dao_events
from tasks.governance import Clock
from tasks.models import DAO, AgentAccount, DaoContract, DaoContractStatus, Proposal, Vote
from tasks.outcome import Outcome
from tasks.proposal_events import Applying, apply_event
from tasks.social import DaoDeploymentTweet

T = TypeVar("T")


def apply_transactions(
    txs: list[ChainTx], *, clock: Callable[[], Clock], created_by: str, block_hash: str = ""
) -> Outcome:
    """Apply the effects of `txs` (in block order); `clock` is asked only when a proposal needs scheduling."""
    outcome = Outcome()
    known = KnownContracts.load()
    for tx in txs:
        _record_status(tx, outcome, created_by)
        if tx.status != SUCCESS:
            continue
        read = PrintsRead()
        at = Applying(tx.tx_id, block_hash, clock, outcome, created_by)
        for dao, event in dao_events(tx, known, read):
            outcome.events += 1
            apply_event(dao, event, at)
        outcome.account_events += read.account_events
        outcome.prints_not_understood.extend(read.not_understood)
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
    _record_dao_contract(tx, outcome, created_by)
    # A DAO deployed contract by contract is confirmed by its last contract (above), not here.
    deployed = Q(deployment_tx_id=tx.tx_id)
    if ok and tx.kind == "smart_contract":
        deployed |= Q(dao_contract=tx.contract_id)
    for dao in DAO.objects.filter(deployed).filter(contracts__isnull=True):
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


def _record_dao_contract(tx: ChainTx, outcome: Outcome, created_by: str) -> None:
    """One contract of a DAO's set reached a final status; the DAO is deployed with its last."""
    status = DaoContractStatus.CONFIRMED if tx.status == SUCCESS else DaoContractStatus.FAILED
    for contract in DaoContract.objects.filter(tx_id=tx.tx_id).exclude(status=status).select_related("dao"):
        DaoContract.objects.filter(pk=contract.pk).update(status=status, tx_status=tx.status)
        if status == DaoContractStatus.FAILED:
            outcome.failed_txs.append(tx.tx_id)
        elif not DaoContract.objects.filter(dao=contract.dao).exclude(status=DaoContractStatus.CONFIRMED).exists():
            confirm_deployment(contract.dao, outcome, created_by)


def confirm_deployment(dao: DAO, outcome: Outcome, created_by: str) -> None:
    """Mark a DAO deployed once, and enqueue its launch post with that change, unless a
    deployment workflow owns the post (its last step, released by this confirmation's step)."""
    if DAO.objects.filter(pk=dao.pk, is_deployed=False).update(is_deployed=True, is_broadcast=True):
        outcome.daos_deployed.append(dao.pk)
        if DAO.objects.filter(pk=dao.pk, deployment_workflow_id__isnull=True).exists():
            enqueue(DaoDeploymentTweet, {"dao_id": dao.pk}, created_by=created_by)
            outcome.enqueued += 1
