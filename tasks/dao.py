"""Deploying contracts through the transaction service: `dao_deployment` and `agent_account_deploy`."""

from __future__ import annotations

import pydantic
from asgiref.sync import sync_to_async
from django.db import transaction

from jobqueue import JobContext, JobResult, PermanentError, Priority, RateLimited, RetryableError, job
from tasks.clients.transactions import CONFIRMED, TransactionClient, TransactionSettings
from tasks.fields import ContractPrincipal, StacksAddress
from tasks.models import DAO, AgentAccount
from tasks.pipeline import Outcome, confirm_deployment
from tasks.transaction_job import TX_CONFIRMATION, TransactionJob


def confirmed(dao: DAO, created_by: str) -> None:
    """Mark a deployment confirmed here first; its launch post is enqueued with that change."""
    with transaction.atomic():
        confirm_deployment(dao, Outcome(), created_by=created_by)


@job(priority=Priority.HIGH, max_attempts=3, timeout=300, concurrency=1, enabled=False, requires=(TX_CONFIRMATION,))
class DaoDeployment(TransactionJob):
    """Deploy a DAO and its token through the transaction service, one deployment on the chain at a time."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        token_symbol: str = pydantic.Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")
        token_name: str = pydantic.Field(min_length=1, max_length=64, pattern=r"\S")
        token_description: str = pydantic.Field(default="", max_length=2000)
        token_max_supply: int = pydantic.Field(gt=0, le=10**18)
        token_decimals: int = pydantic.Field(default=6, ge=0, le=18)
        origin_address: StacksAddress
        mission: str = pydantic.Field(min_length=1, max_length=4000, pattern=r"\S")

    class Settings(TransactionSettings):
        wait_seconds: float = pydantic.Field(default=60.0, gt=0, description="between checks of a pending deployment")

    async def check_resources(self, ctx: JobContext, payload: Payload) -> None:
        """Wait (without using an attempt) while another deployment is broadcast but unconfirmed."""
        client = TransactionClient.from_settings(ctx.settings)
        pending = DAO.objects.filter(is_broadcast=True, is_deployed=False).exclude(deployment_job_id=ctx.job_id)
        async for dao in pending:
            receipt = await client.status(dao.deployment_tx_id)
            if receipt.status == CONFIRMED:
                await sync_to_async(confirmed)(dao, f"job:{ctx.job_id}")
            elif receipt.failed:
                await DAO.objects.filter(pk=dao.pk).aupdate(is_broadcast=False)
                ctx.log.warning("deployment of %s failed on the chain: %s", dao, receipt.reason or receipt.status)
            else:
                raise RateLimited(
                    f"deployment of {dao} ({dao.deployment_tx_id}) is not confirmed yet",
                    after=ctx.settings.wait_seconds,
                )

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        existing = await DAO.objects.filter(token_symbol=payload.token_symbol).afirst()
        if existing is not None and (existing.is_broadcast or existing.is_deployed):
            if existing.deployment_job_id is not None and str(existing.deployment_job_id) == ctx.job_id:
                # An earlier attempt saved the broadcast and then died before its success was
                # recorded: its confirmation follow-up died with it. Follow the transaction again
                # (the unique key makes this a no-op if the follow-up is still waiting).
                if not existing.is_deployed and existing.deployment_tx_id:
                    self.follow(ctx, existing.deployment_tx_id, "dao_deployment", existing.pk)
                return JobResult.ok("already broadcast by this job", data={"dao_id": existing.pk})
            raise PermanentError(f"token symbol {payload.token_symbol} is already deployed ({existing})")
        receipt = await TransactionClient.from_settings(ctx.settings).call(
            "deploy_dao",
            {
                "token_symbol": payload.token_symbol,
                "token_name": payload.token_name,
                "token_description": payload.token_description,
                "token_max_supply": str(payload.token_max_supply),
                "token_decimals": payload.token_decimals,
                "origin_address": payload.origin_address,
                "mission": payload.mission,
            },
            idempotency_key=f"dao_deployment:{ctx.job_id}",
        )
        if receipt.failed:
            raise PermanentError(f"the transaction service refused the deployment: {receipt.reason or receipt.status}")
        if not receipt.broadcast:
            raise RetryableError(f"the deployment is {receipt.status}, not broadcast yet")
        raw = receipt.details.get("contracts")
        contracts = raw if isinstance(raw, dict) else {}
        fields = {
            "name": payload.token_name,
            "mission": payload.mission,
            "description": payload.token_description,
            "token_name": payload.token_name,
            "token_max_supply": payload.token_max_supply,
            "token_decimals": payload.token_decimals,
            "origin_address": payload.origin_address,
            "dao_contract": str(contracts.get("dao", "")),
            "token_contract": str(contracts.get("token", "")),
            "dex_contract": str(contracts.get("dex", "")),
            "is_broadcast": True,
            # Deployed once confirmed on the chain (tx_confirmation, or a block that includes it).
            "is_deployed": False,
            "deployment_tx_id": receipt.tx_id,
            "deployment_job_id": ctx.job_id,
        }
        # Committed at once, before the job's success: a retry finds it by deployment_job_id
        # (until then, the idempotency key keeps the service from broadcasting twice).
        dao, _ = await DAO.objects.aupdate_or_create(token_symbol=payload.token_symbol, defaults=fields)
        self.follow(ctx, receipt.tx_id, "dao_deployment", dao.pk)
        return JobResult.ok("deployment broadcast", data={"dao_id": dao.pk, "tx_id": receipt.tx_id})


@job(priority=Priority.MEDIUM, max_attempts=3, timeout=300, concurrency=1, enabled=False, requires=(TX_CONFIRMATION,))
class AgentAccountDeploy(TransactionJob):
    """Deploy an agent account for an owner, bound to a DAO's token and DEX contracts, and record it."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        # All three are required: there is no fallback address.
        owner_address: StacksAddress
        dao_token_contract: ContractPrincipal
        dao_dex_contract: ContractPrincipal

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        existing = await AgentAccount.objects.filter(
            owner_address=payload.owner_address, dao_token_contract=payload.dao_token_contract
        ).afirst()
        if existing is not None:
            if existing.tx_id and not existing.tx_status:
                # Broadcast, but no final status yet: make sure a confirmation follows it.
                self.follow(ctx, existing.tx_id, "agent_account", existing.pk)
            return JobResult.ok("already deployed", data={"account_id": existing.pk, "tx_id": existing.tx_id})
        receipt = await TransactionClient.from_settings(ctx.settings).call(
            "deploy_agent_account",
            payload.model_dump(),
            idempotency_key=f"agent_account:{payload.owner_address}:{payload.dao_token_contract}",
        )
        if receipt.failed:
            raise PermanentError(f"the transaction service refused the account: {receipt.reason or receipt.status}")
        if not receipt.broadcast:
            raise RetryableError(f"the account deployment is {receipt.status}, not broadcast yet")
        account = await AgentAccount.objects.acreate(
            owner_address=payload.owner_address,
            dao_token_contract=payload.dao_token_contract,
            dao_dex_contract=payload.dao_dex_contract,
            account_contract=str(receipt.details.get("contract", "")),
            tx_id=receipt.tx_id,
        )
        self.follow(ctx, receipt.tx_id, "agent_account", account.pk)
        return JobResult.ok("account deployed", data={"account_id": account.pk, "tx_id": receipt.tx_id})
