"""Deploying contracts through the transaction service: `dao_deployment` and `agent_account_deploy`.

Clarity cannot deploy a contract from a contract: a DAO is its generated contract set, each
sent as a `smart_contract` transaction in dependency order, and an agent account is one
contract named after its owner and agent.
"""

from __future__ import annotations

import pydantic
from asgiref.sync import sync_to_async
from django.db import transaction

from jobqueue import (
    JobContext,
    JobResult,
    PermanentError,
    Priority,
    RateLimited,
    RetryableError,
    Workflow,
    enqueue,
    job,
)
from jobqueue.engine.workflow import Step
from jobqueue.models import ACTIVE, Job, Status
from tasks.aibtc import naming
from tasks.clients.contracts import ContractSourceSettings, GeneratedContract, agent_account_contract, dao_contracts
from tasks.clients.transactions import Receipt, TransactionClient, TransactionSettings
from tasks.fields import ContractPrincipal, StacksAddress
from tasks.models import DAO, AgentAccount, DaoContract, DaoContractStatus
from tasks.partitions import ByServiceKey
from tasks.pipeline import Outcome, confirm_deployment
from tasks.social import DaoDeploymentTweet
from tasks.transaction_job import TX_CONFIRMATION, TransactionJob

# Which DAO record field names which contract of the set.
DAO_FIELDS = {
    naming.Order.BASE_DAO: "dao_contract",
    naming.Order.TOKEN: "token_contract",
    naming.Order.DEX: "dex_contract",
}


# A workflow with one of these still has work to do.
UNFINISHED = (*ACTIVE, Status.BLOCKED)


def _send(receipt: Receipt, what: str) -> None:
    if receipt.failed:
        raise PermanentError(f"the transaction service refused {what}: {receipt.reason or receipt.status}")
    if not receipt.broadcast:
        raise RetryableError(f"{what} is {receipt.status}, not broadcast yet")


@job(
    priority=Priority.HIGH,
    max_attempts=3,
    timeout=300,
    concurrency=4,
    # Every contract is sent with the service's own key: one send at a time per key.
    partition_concurrency=1,
    enabled=False,
    requires=(TX_CONFIRMATION, DaoDeploymentTweet),
)
class DaoDeployment(ByServiceKey, TransactionJob):
    """Deploy a DAO: plan its generated contracts as a workflow (one step per contract, each after
    the contracts before it in deployment order, then the launch post); a step (`contract` set)
    sends its contract and succeeds once the chain confirms it. Resumable."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        token_symbol: str = pydantic.Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")
        token_name: str = pydantic.Field(min_length=1, max_length=64, pattern=r"\S")
        token_description: str = pydantic.Field(default="", max_length=2000)
        token_max_supply: int = pydantic.Field(gt=0, le=10**18)
        token_decimals: int = pydantic.Field(default=6, ge=0, le=18)
        origin_address: StacksAddress
        mission: str = pydantic.Field(min_length=1, max_length=4000, pattern=r"\S")
        # Set on the workflow's steps: the one contract of the set this job deploys.
        contract: str | None = pydantic.Field(default=None, min_length=1, max_length=128)

    class Settings(TransactionSettings, ContractSourceSettings):
        wait_seconds: float = pydantic.Field(default=60.0, gt=0, description="between checks of a pending contract")
        max_sends: int = pydantic.Field(default=2, ge=1, le=10, description="sends of a contract that fails on chain")

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        dao = await sync_to_async(self.record)(payload, ctx.job_id)
        rows = [row async for row in DaoContract.objects.filter(dao=dao).order_by("order", "name")]
        if not rows:  # the first run fixes the set
            rows = await sync_to_async(self.contracts)(dao, await self.generate(ctx, payload))
        if payload.contract is None:
            return await sync_to_async(self.plan)(ctx, payload, dao, rows)
        row = next((r for r in rows if r.name == payload.contract), None)
        if row is None:
            raise PermanentError(f"DAO {dao.token_symbol} has no contract {payload.contract} in its set")
        return await self.deploy(ctx, payload, dao, row)

    async def generate(self, ctx: JobContext, payload: Payload) -> list[GeneratedContract]:
        return await dao_contracts(ctx.settings, payload.token_symbol, payload.origin_address, payload.mission)

    def plan(self, ctx: JobContext, payload: Payload, dao: DAO, rows: list[DaoContract]) -> JobResult:
        """The deployment as one workflow, in one transaction; none while an earlier one goes on."""
        data: dict[str, object] = {"dao_id": dao.pk, "contracts": len(rows)}
        if dao.is_deployed:  # its last contract's confirmation completed it
            return JobResult.ok(f"deployed {len(rows)} contracts", data=data)
        with transaction.atomic():
            locked = DAO.objects.select_for_update().get(pk=dao.pk)
            running = locked.deployment_workflow_id
            if running is not None and Job.objects.filter(workflow_id=running, status__in=UNFINISHED).exists():
                return JobResult.ok(
                    f"the deployment is under way in workflow {running}", data={**data, "workflow_id": str(running)}
                )
            todo = [row for row in rows if row.status != DaoContractStatus.CONFIRMED]
            if not todo:
                confirm_deployment(dao, Outcome(), created_by=f"job:{ctx.job_id}")
                return JobResult.ok(f"deployed {len(rows)} contracts", data=data)
            flow = deployment_workflow(payload.model_dump(), dao, todo)
            flow.enqueue()
            DAO.objects.filter(pk=dao.pk).update(deployment_workflow_id=flow.id)
        return JobResult.ok(
            f"deploying {len(todo)} of {len(rows)} contracts in workflow {flow.id}",
            data={**data, "workflow_id": flow.id, "steps": len(flow.steps)},
        )

    async def deploy(self, ctx: JobContext, payload: Payload, dao: DAO, row: DaoContract) -> JobResult:
        """Send the contract unless it is on its way; succeed once it is confirmed."""
        data = {"dao_id": dao.pk, "contract": row.name, "contract_id": row.contract_id, "tx_id": row.tx_id}
        if row.status == DaoContractStatus.CONFIRMED:
            return JobResult.ok(f"{row.name} confirmed ({row.tx_id})", data=data)
        if row.status == DaoContractStatus.BROADCAST:
            raise RateLimited(f"{row.name} ({row.tx_id}) is not confirmed yet", after=ctx.settings.wait_seconds)
        if row.status == DaoContractStatus.FAILED and row.sends >= ctx.settings.max_sends:
            raise PermanentError(
                f"{row.name} failed on the chain ({row.tx_status}) after {row.sends} sends; fix the cause, "
                "raise max_sends and re-run this step: the confirmed contracts are kept"
            )
        sources = {contract.name: contract for contract in await self.generate(ctx, payload)}
        if row.name not in sources:
            raise PermanentError(f"the contract source no longer has {row.name}; restore it and re-run")
        contract = sources[row.name]
        receipt = await TransactionClient.from_settings(ctx.settings).call(
            "deploy_contract",
            {
                "contract_name": contract.name,
                "source": contract.source,
                "clarity_version": contract.clarity_version,
            },
            idempotency_key=f"dao_contract:{row.pk}:{row.sends + 1}",
        )
        _send(receipt, f"the deployment of {contract.name}")
        await sync_to_async(self.sent)(dao, row, receipt, f"job:{ctx.job_id}")
        raise RateLimited(
            f"{row.name} broadcast ({receipt.tx_id}); waiting for its confirmation", after=ctx.settings.wait_seconds
        )

    def record(self, payload: Payload, job_id: str) -> DAO:
        """The DAO's record, created by the first run; a later job for the same symbol resumes it."""
        dao, _ = DAO.objects.get_or_create(
            token_symbol=payload.token_symbol,
            defaults={
                "name": payload.token_name,
                "mission": payload.mission,
                "description": payload.token_description,
                "token_name": payload.token_name,
                "token_max_supply": payload.token_max_supply,
                "token_decimals": payload.token_decimals,
                "origin_address": payload.origin_address,
                "deployment_job_id": job_id,
            },
        )
        return dao

    def contracts(self, dao: DAO, generated: list[GeneratedContract]) -> list[DaoContract]:
        """The DAO's contract rows in deployment order; the set is fixed by the first run."""
        with transaction.atomic():
            if not DaoContract.objects.filter(dao=dao).exists():
                DaoContract.objects.bulk_create(
                    DaoContract(dao=dao, template=c.template, name=c.name, order=c.order) for c in generated
                )
            return list(DaoContract.objects.filter(dao=dao).order_by("order", "name"))

    def sent(self, dao: DAO, row: DaoContract, receipt: Receipt, created_by: str) -> None:
        """Record the broadcast and have tx_confirmation follow it, in one transaction."""
        contract_id = str(receipt.details.get("contract_id") or "")
        with transaction.atomic():
            DaoContract.objects.filter(pk=row.pk).update(
                status=DaoContractStatus.BROADCAST,
                tx_id=receipt.tx_id,
                tx_status="",
                contract_id=contract_id,
                sends=row.sends + 1,
            )
            fields = {"is_broadcast": True, "deployment_tx_id": receipt.tx_id}
            order = naming.Order(row.order) if row.order in naming.Order._value2member_map_ else None
            if order in DAO_FIELDS:
                fields[DAO_FIELDS[order]] = contract_id
            DAO.objects.filter(pk=dao.pk).update(**fields)
            enqueue(
                TX_CONFIRMATION,
                {"tx_id": receipt.tx_id, "kind": "dao_contract", "object_id": row.pk},
                unique_key=f"dao_contract:{row.pk}:{receipt.tx_id}",
                created_by=created_by,
            )


def deployment_workflow(payload: dict[str, object], dao: DAO, rows: list[DaoContract]) -> Workflow:
    """One step per contract, after every contract of the order before it (the aibtc deployment
    order is a sequence: a contract may use any contract before it), then the launch post."""
    flow = Workflow()
    previous: list[Step] = []
    for order in sorted({row.order for row in rows}):
        tier = [
            flow.add(DaoDeployment, {**payload, "contract": row.name}, after=previous, key=row.name)
            for row in rows
            if row.order == order
        ]
        previous = tier
    flow.add(DaoDeploymentTweet, {"dao_id": dao.pk}, after=previous, key="launch post")
    return flow


@job(
    priority=Priority.MEDIUM,
    max_attempts=3,
    timeout=300,
    concurrency=1,
    partition_concurrency=1,
    enabled=False,
    requires=(TX_CONFIRMATION,),
)
class AgentAccountDeploy(ByServiceKey, TransactionJob):
    """Deploy an agent account for an owner and an agent, named by the convention, and record it."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        # All required: there is no fallback address.
        owner_address: StacksAddress
        agent_address: StacksAddress
        dao_token_contract: ContractPrincipal

    class Settings(TransactionSettings, ContractSourceSettings):
        pass

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        existing = await AgentAccount.objects.filter(
            owner_address=payload.owner_address, dao_token_contract=payload.dao_token_contract
        ).afirst()
        if existing is not None:
            if existing.tx_id and not existing.tx_status:
                # Broadcast, but no final status yet: make sure a confirmation follows it.
                self.follow(ctx, existing.tx_id, "agent_account", existing.pk)
            return JobResult.ok("already deployed", data={"account_id": existing.pk, "tx_id": existing.tx_id})
        symbol = naming.ContractId.parse(payload.dao_token_contract).name.split("-")[0]
        contract = await agent_account_contract(ctx.settings, symbol, payload.owner_address, payload.agent_address)
        receipt = await TransactionClient.from_settings(ctx.settings).call(
            "deploy_agent_account",
            {
                "owner_address": payload.owner_address,
                "agent_address": payload.agent_address,
                "source": contract.source,
                "clarity_version": contract.clarity_version,
            },
            idempotency_key=f"agent_account:{payload.owner_address}:{payload.dao_token_contract}",
        )
        _send(receipt, "the account")
        account = await AgentAccount.objects.acreate(
            owner_address=payload.owner_address,
            agent_address=payload.agent_address,
            dao_token_contract=payload.dao_token_contract,
            account_contract=str(receipt.details.get("contract_id") or ""),
            tx_id=receipt.tx_id,
        )
        self.follow(ctx, receipt.tx_id, "agent_account", account.pk)
        return JobResult.ok("account deployed", data={"account_id": account.pk, "tx_id": receipt.tx_id})
