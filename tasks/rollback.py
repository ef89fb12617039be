"""Undoing a block the chain dropped (a chainhook `rollback`): what it created and nobody acted on yet.

The jobs a block enqueued carry `created_by = "block:<hash>"`. Those still waiting are
cancelled; a record the block created is removed (or its change reverted) only when no job
about it has started, otherwise it is kept and reported, for an operator to look at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from jobqueue.models import WAITING, Job, Status
from jobqueue.services import cancel
from tasks.aibtc import notifications as n
from tasks.chaindata import SUCCESS, ChainBlock
from tasks.events import KnownContracts, PrintsRead, dao_events
from tasks.models import DAO, AppliedBlock, ChainState, ParkedEvent, Proposal, ProposalStatus, Veto, Vote

ACTOR = "chainhook rollback"
# What a conclusion set, unknown again once its block is rolled back.
CONCLUSION_UNKNOWN: dict[str, object] = dict.fromkeys(
    (
        "votes_for",
        "votes_against",
        "veto_votes",
        "met_quorum",
        "met_threshold",
        "veto_met_quorum",
        "veto_exceeds_yes",
        "vetoed",
        "passed",
        "executed",
        "expired",
        "conclusion_status",
        "execution_error",
    )
)


@dataclass
class Undone:
    cancelled_jobs: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reverted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def as_data(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value}

    def summary(self) -> str:
        return (
            f"rolled back: {len(self.cancelled_jobs)} job(s) cancelled, {len(self.removed)} record(s) removed, "
            f"{len(self.reverted)} reverted, {len(self.kept)} kept because already acted on"
            + (f" ({'; '.join(self.kept)})" if self.kept else "")
        )


# Not started: waiting, or blocked in a workflow (a proposal's lifecycle) until its dependencies end.
NOT_STARTED = (*WAITING, Status.BLOCKED)


def _started(query: Q) -> bool:
    return Job.objects.filter(query).exclude(status__in=(*NOT_STARTED, Status.CANCELLED)).exists()


def _cancel(query: Q, undone: Undone, reason: str) -> None:
    for job_id in list(
        Job.objects.filter(query, status__in=NOT_STARTED).order_by("created_at").values_list("pk", flat=True)
    ):
        # Cancelling a job cancels the workflow steps that wait for it: look again before each.
        job = Job.objects.filter(pk=job_id, status__in=NOT_STARTED).first()
        if job is not None:
            cancel(job, by=ACTOR, reason=reason)
        undone.cancelled_jobs.append(str(job_id))


def _undo(proposal: Proposal, event: n.DaoEvent, tx_id: str, by_block: Q, undone: Undone, reason: str) -> None:
    about = by_block & Q(payload__proposal_id=proposal.pk)
    if isinstance(event, n.ProposalCreated) and proposal.created_tx_id == tx_id:
        anything = Q(payload__proposal_id=proposal.pk)
        if _started(anything) or proposal.votes.filter(confidence__isnull=False).exists():
            undone.kept.append(f"proposal {proposal.pk}: already evaluated or voted on")
            return
        _cancel(anything, undone, reason)
        undone.removed.append(f"proposal {proposal.pk}")
        proposal.delete()
    elif isinstance(event, n.VoteCast):
        vote = Vote.objects.filter(proposal=proposal, tx_id=tx_id).first()
        if vote is not None and vote.confidence is None:
            undone.removed.append(f"vote {vote.pk}")
            vote.delete()
        elif vote is not None:
            Vote.objects.filter(pk=vote.pk).update(tx_status="")
            undone.reverted.append(f"vote {vote.pk}: confirmation")
    elif isinstance(event, n.VetoCast):
        for veto in Veto.objects.filter(proposal=proposal, tx_id=tx_id):
            undone.removed.append(f"veto {veto.pk}")
            veto.delete()
    elif isinstance(event, n.ProposalConcluded):
        # Posted by the block itself, or by the lifecycle's announcement step.
        steps = Job.objects.filter(workflow_id=proposal.workflow_id) if proposal.workflow_id else Job.objects.none()
        announcers = [f"job:{pk}" for pk in steps.values_list("pk", flat=True)]
        posts = (by_block | Q(created_by__in=announcers)) & Q(job_type__name__in=["discord", "tweet"])
        if _started(posts):
            undone.kept.append(f"proposal {proposal.pk}: its conclusion was already posted")
            return
        _cancel(posts | about, undone, reason)
        Proposal.objects.filter(pk=proposal.pk).update(
            status=ProposalStatus.OPEN, announced_at=None, conclusion_tx_status="", **CONCLUSION_UNKNOWN
        )
        undone.reverted.append(f"proposal {proposal.pk}: conclusion")


def rollback_block(block: ChainBlock, network: str) -> Undone:
    """Undo the block's effects that nothing acted on. Call inside a transaction."""
    undone = Undone()
    by_block = Q(created_by=f"block:{block.hash}")
    reason = f"block {block.height} ({block.hash}) was rolled back"
    known = KnownContracts.load()
    read = PrintsRead()
    ParkedEvent.objects.filter(block_hash=block.hash).delete()
    for tx in reversed(block.txs):
        if tx.status != SUCCESS:
            continue
        for dao, event in reversed(list(dao_events(tx, known, read))):
            if isinstance(event, n.ExecutionFailed):
                continue  # undone with its conclusion
            proposal = Proposal.objects.filter(dao=dao, onchain_id=event.proposal_id).first()
            if proposal is not None:
                _undo(proposal, event, tx.tx_id, by_block, undone, reason)
        _undo_deployment(tx.tx_id, tx.contract_id if tx.kind == "smart_contract" else "", by_block, undone, reason)
    _cancel(by_block, undone, reason)  # anything else the block enqueued and nothing ran
    AppliedBlock.objects.filter(network=network, height=block.height, block_hash=block.hash).delete()
    ChainState.objects.filter(network=network, last_height=block.height, block_hash=block.hash).update(
        last_height=max(0, block.height - 1), block_hash=""
    )
    return undone


def _undo_deployment(tx_id: str, contract_id: str, by_block: Q, undone: Undone, reason: str) -> None:
    match = Q(deployment_tx_id=tx_id) | (Q(dao_contract=contract_id) if contract_id else Q(pk__in=[]))
    for dao in DAO.objects.filter(match, is_deployed=True):
        launch = by_block & Q(job_type__name="dao_deployment_tweet", payload__dao_id=dao.pk)
        if not Job.objects.filter(launch).exists():
            continue  # confirmed by another block or by its transaction's confirmation
        if _started(launch):
            undone.kept.append(f"DAO {dao.pk}: its launch post is already under way")
            continue
        _cancel(launch, undone, reason)
        DAO.objects.filter(pk=dao.pk).update(is_deployed=False, deployment_tx_status="")
        undone.reverted.append(f"DAO {dao.pk}: deployment confirmation")
