"""`tx_confirmation`: follow a broadcast transaction to its final status on the chain.

The transaction jobs (deployments, votes, conclusions) enqueue one after each broadcast.
It reads `GET extended/v1/tx/{txid}` until the status is final, waiting with `RateLimited`
(no attempt used) at a growing interval meanwhile. A successful transaction is applied like a
block's (`tasks/pipeline.py`): the status is recorded on its object and what follows is
enqueued (a deployed DAO's launch post, a concluded proposal's posts). An aborted or dropped
one is recorded on its object and the job fails permanently, leaving a dead letter with the
chain's reason for an operator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Literal

import pydantic
from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from jobqueue import BaseJob, JobContext, JobResult, PermanentError, Priority, RateLimited, enqueue, job
from jobqueue.models import Job
from tasks.chaindata import SUCCESS, ChainTx, is_failure, tx_of_api
from tasks.clients.chain import ChainClient
from tasks.clients.transactions import TransactionClient, TransactionSettings
from tasks.governance import Clock, GovernanceSettings, chain_clock
from tasks.models import DAO, AgentAccount, DaoContract, DaoContractStatus, Proposal, Vote
from tasks.partitions import ByChainApiKey
from tasks.pipeline import Outcome, applied, apply_transactions
from tasks.social import DaoDeploymentTweet, Tweet
from tasks.transaction_job import TX_CONFIRMATION
from tasks.webhooks import Discord

Kind = Literal["dao_deployment", "dao_contract", "agent_account", "vote", "conclusion"]


def record_failure(kind: Kind, object_id: int, tx_id: str, status: str) -> None:
    """Mark the object of an aborted or dropped transaction failed (the block path does the same)."""
    if kind == "dao_deployment":
        DAO.objects.filter(pk=object_id, deployment_tx_id=tx_id, is_deployed=False).update(
            deployment_tx_status=status, is_broadcast=False
        )
    elif kind == "dao_contract":
        DaoContract.objects.filter(pk=object_id, tx_id=tx_id).update(status=DaoContractStatus.FAILED, tx_status=status)
    elif kind == "agent_account":
        AgentAccount.objects.filter(pk=object_id, tx_id=tx_id).update(tx_status=status, is_deployed=False)
    elif kind == "vote":
        Vote.objects.filter(pk=object_id, tx_id=tx_id).update(tx_status=status)
    else:
        Proposal.objects.filter(pk=object_id, conclusion_tx_id=tx_id).update(conclusion_tx_status=status)


def follow_replacement(kind: Kind, object_id: int, old: str, new: str) -> None:
    """Point the object at the replacing transaction and follow that one, in one transaction."""
    with transaction.atomic():
        if kind == "dao_deployment":
            DAO.objects.filter(pk=object_id, deployment_tx_id=old).update(deployment_tx_id=new)
        elif kind == "dao_contract":
            DaoContract.objects.filter(pk=object_id, tx_id=old).update(tx_id=new)
            DAO.objects.filter(contracts__pk=object_id, deployment_tx_id=old).update(deployment_tx_id=new)
        elif kind == "agent_account":
            AgentAccount.objects.filter(pk=object_id, tx_id=old).update(tx_id=new)
        elif kind == "vote":
            Vote.objects.filter(pk=object_id, tx_id=old).update(tx_id=new)
        else:
            Proposal.objects.filter(pk=object_id, conclusion_tx_id=old).update(conclusion_tx_id=new)
        enqueue(
            TX_CONFIRMATION,
            {"tx_id": new, "kind": kind, "object_id": object_id},
            unique_key=f"{kind}:{object_id}:{new}",
            created_by=f"replacement of {old}",
        )


@job(
    name=TX_CONFIRMATION,
    priority=Priority.MEDIUM,
    max_attempts=5,
    timeout=60,
    concurrency=4,
    # Per Hiro API key (or host, without one): each check is one or two requests, and Hiro allows
    # 50 a minute per client without a key (500 with one); the other chain types share the key.
    partition_rate_limit="20/m",
    enabled=False,
    requires=(DaoDeploymentTweet, Discord, Tweet),
)
class TxConfirmation(ByChainApiKey, BaseJob):
    """Follow a broadcast transaction until the chain says success, aborted or dropped."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        tx_id: str = pydantic.Field(min_length=1, max_length=100, pattern=r"^[0-9A-Za-z_:-]+$")
        kind: Kind
        object_id: int = pydantic.Field(ge=1)

    class Settings(GovernanceSettings, TransactionSettings):
        first_check_seconds: float = pydantic.Field(default=15.0, gt=0, description="wait after the broadcast")
        max_check_seconds: float = pydantic.Field(default=300.0, gt=0, description="longest wait between checks")
        give_up_after_seconds: float = pydantic.Field(
            default=48 * 3600.0, gt=0, description="a transaction still pending after this is a dead letter"
        )

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        if not ctx.settings.chain_api_url:
            raise PermanentError("set the chain_api_url setting of job type 'tx_confirmation'")

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        settings = ctx.settings
        client = ChainClient.from_settings(settings)
        raw, events = await client.transaction(payload.tx_id)
        status = str(raw.get("tx_status", "")) if raw else "unknown to the chain API"
        if status != SUCCESS and not is_failure(status):
            created = await Job.objects.filter(pk=ctx.job_id).values_list("created_at", flat=True).afirst()
            waited = timezone.now() - (created or timezone.now())
            if waited > timedelta(seconds=settings.give_up_after_seconds):
                raise PermanentError(f"transaction {payload.tx_id} is still {status} after {waited}")
            replaced = await self.replacement(ctx, payload)
            if replaced:
                return JobResult.ok(
                    f"{payload.kind} {payload.object_id}: {payload.tx_id} was replaced by {replaced}",
                    data={"tx_id": payload.tx_id, "replaced_by": replaced},
                )
            # Backoff by age: half the time waited so far, within [first_check, max_check].
            after = min(settings.max_check_seconds, max(settings.first_check_seconds, waited.total_seconds() / 2))
            raise RateLimited(f"transaction {payload.tx_id} is {status}", after=after)
        assert raw is not None  # noqa: S101 - a final status comes from a found transaction
        tx = tx_of_api(raw, events)
        outcome = await applied(lambda clock: self.apply(ctx, payload, tx, clock), lambda: chain_clock(settings))
        if status != SUCCESS:
            result = (raw.get("tx_result") or {}).get("repr", "")
            raise PermanentError(
                f"transaction {payload.tx_id} ({payload.kind} {payload.object_id}) failed on the chain: {status}"
                + (f" {result}" if result else "")
            )
        return JobResult.ok(
            f"{payload.kind} {payload.object_id} confirmed: {outcome.summary()}",
            data={"tx_id": payload.tx_id, "status": status, **outcome.as_data()},
            enqueued=outcome.enqueued,
        )

    async def replacement(self, ctx: JobContext, payload: Payload) -> str:
        """Ask the transaction service (when configured) about a pending transaction: past its
        set time it replaces it (same nonce, higher fee) and answers the new txid, which this
        deployment then follows instead ("" when not replaced)."""
        if not ctx.settings.tx_service_url:
            return ""
        receipt = await TransactionClient.from_settings(ctx.settings).status(payload.tx_id)
        if not receipt.tx_id or receipt.tx_id == payload.tx_id:
            return ""
        await sync_to_async(follow_replacement)(payload.kind, payload.object_id, payload.tx_id, receipt.tx_id)
        return receipt.tx_id

    def apply(self, ctx: JobContext, payload: Payload, tx: ChainTx, clock: Callable[[], Clock]) -> Outcome:
        """Apply the transaction like a block's, and record a failure on its object, in one transaction."""
        with transaction.atomic():
            outcome = apply_transactions([tx], clock=clock, created_by=f"job:{ctx.job_id}")
            if tx.status != SUCCESS:
                record_failure(payload.kind, payload.object_id, payload.tx_id, tx.status)
        return outcome
