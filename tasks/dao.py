"""Deploying contracts through the transaction service: `dao_deployment` and `agent_account_deploy`.

Clarity cannot deploy a contract from a contract: a DAO is its generated contract set, each
sent as a `smart_contract` transaction in dependency order, and an agent account is one
contract named after its owner and agent.
"""

from __future__ import annotations

import pydantic
from asgiref.sync import sync_to_async
from django.db import transaction

from jobqueue import JobContext, JobResult, PermanentError, Priority, RateLimited, RetryableError, enqueue, job
from tasks.aibtc import naming
from tasks.clients.contracts import ContractSourceSettings, GeneratedContract, agent_account_contract, dao_contracts
from tasks.clients.transactions import Receipt, TransactionClient, TransactionSettings
from tasks.fields import ContractPrincipal, StacksAddress
from tasks.models import DAO, AgentAccount, DaoContract, DaoContractStatus
from tasks.partitions import ByServiceKey
from tasks.pipeline import Outcome, confirm_deployment
from tasks.transaction_job import TX_CONFIRMATION, TransactionJob

# Which DAO record field names which contract of the set.
DAO_FIELDS = {
    naming.Order.BASE_DAO: "dao_contract",
    naming.Order.TOKEN: "token_contract",
    naming.Order.DEX: "dex_contract",
}


def _send(receipt: Receipt, what: str) -> None:
    if receipt.failed:
        raise PermanentError(f"the transaction service refused {what}: {receipt.reason or receipt.status}")
    if not receipt.broadcast:
        raise RetryableError(f"{what} is {receipt.status}, not broadcast yet")


@job(
    priority=Priority.HIGH,
    max_attempts=3,
    timeout=300,
    concurrency=1,
    # Every contract is sent with the service's own key: one send at a time per key.
    partition_concurrency=1,
    enabled=False,
    requires=(TX_CONFIRMATION,),
)
class DaoDeployment(ByServiceKey, TransactionJob):
    """Deploy a DAO's generated contracts one by one, each confirmed before the next; resumable."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        token_symbol: str = pydantic.Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")
        token_name: str = pydantic.Field(min_length=1, max_length=64, pattern=r"\S")
        token_description: str = pydantic.Field(default="", max_length=2000)
        token_max_supply: int = pydantic.Field(gt=0, le=10**18)
        token_decimals: int = pydantic.Field(default=6, ge=0, le=18)
        origin_address: StacksAddress
        mission: str = pydantic.Field(min_length=1, max_length=4000, pattern=r"\S")

    class Settings(TransactionSettings, ContractSourceSettings):
        wait_seconds: float = pydantic.Field(default=60.0, gt=0, description="between checks of a pending contract")
        max_sends: int = pydantic.Field(default=2, ge=1, le=10, description="sends of a contract that fails on chain")

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        dao = await sync_to_async(self.record)(payload, ctx.job_id)
        if dao.is_deployed:  # its last contract's confirmation completed it
            count = await DaoContract.objects.filter(dao=dao).acount()
            return JobResult.ok(f"deployed {count} contracts", data={"dao_id": dao.pk, "contracts": count})
        generated = await dao_contracts(ctx.settings, payload.token_symbol, payload.origin_address, payload.mission)
        rows = await sync_to_async(self.contracts)(dao, generated)
        sources = {contract.name: contract for contract in generated}
        for row in rows:
            if row.status == DaoContractStatus.CONFIRMED:
                continue
            if row.status == DaoContractStatus.BROADCAST:
                raise RateLimited(f"{row.name} ({row.tx_id}) is not confirmed yet", after=ctx.settings.wait_seconds)
            if row.status == DaoContractStatus.FAILED and row.sends >= ctx.settings.max_sends:
                raise PermanentError(
                    f"{row.name} failed on the chain ({row.tx_status}) after {row.sends} sends; fix the cause, "
                    "raise max_sends and requeue this job: the confirmed contracts are kept"
                )
            if row.name not in sources:
                raise PermanentError(f"the contract source no longer has {row.name}; restore it and requeue")
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
        await sync_to_async(self.confirmed)(dao, f"job:{ctx.job_id}")
        return JobResult.ok(f"deployed {len(rows)} contracts", data={"dao_id": dao.pk, "contracts": len(rows)})

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

    def confirmed(self, dao: DAO, created_by: str) -> None:
        with transaction.atomic():
            confirm_deployment(dao, Outcome(), created_by=created_by)


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
