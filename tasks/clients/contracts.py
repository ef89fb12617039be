"""Where a DAO's contracts come from: the aibtc contract generator, by URL, or a directory of
templates an operator points at (rendered here as the generator renders them).

The generator answers `POST /api/generate-dao-contracts` with the DAO's generated set (each
contract's template name, source, deployment order and Clarity version) and
`POST /api/generate-agent-account` with one account contract bound to its owner and agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic

from jobqueue import PermanentError, RetryableError
from tasks.aibtc import naming
from tasks.aibtc.templates import Replacements, render
from tasks.clients.http import asend, join, json_object

SERVICE = "the contract generator"
AGENT_ACCOUNT_TEMPLATE = "aibtc-agent-account"


class ContractSourceSettings(pydantic.BaseModel):
    contracts_dir: str = pydantic.Field(default="", description="a directory of aibtc contract templates (*.clar)")
    generator_url: str = pydantic.Field(default="", description="the aibtc contract generator's base URL")
    base_deployer: str = pydantic.Field(
        default="",
        pattern=r"^(S[PMTN][0-9A-HJKMNP-TV-Z]{38,40})?$",
        description="contracts_dir: the deployer of the shared trait contracts the templates use",
    )
    stacks_network: Literal["mainnet", "testnet", "devnet"] = "mainnet"
    generator_timeout_seconds: float = pydantic.Field(default=30.0, gt=0)


@dataclass(frozen=True)
class GeneratedContract:
    template: str
    name: str  # the deployed name
    source: str
    order: int
    clarity_version: int = 3


def _configured(settings: ContractSourceSettings) -> None:
    if not settings.contracts_dir and not settings.generator_url:
        raise PermanentError("set the contracts_dir or the generator_url setting of this job type")


def _template(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise PermanentError(f"cannot read the contract template {path}: {exc.strerror}") from None


async def dao_contracts(
    settings: ContractSourceSettings, symbol: str, origin: str, mission: str
) -> list[GeneratedContract]:
    """The DAO's contracts, in deployment order."""
    _configured(settings)
    if settings.generator_url:
        body = await _generate(
            settings,
            "api/generate-dao-contracts",
            {
                "network": settings.stacks_network,
                "tokenSymbol": symbol,
                "customReplacements": {"origin_address": origin, "dao_manifest": mission},
            },
        )
        raw = body.get("contracts")
        if not isinstance(raw, list) or not raw:
            raise RetryableError(f"{SERVICE} answered no contracts")
        found = [_generated(item, symbol) for item in raw]
    else:
        directory = Path(settings.contracts_dir)
        replacements = Replacements(symbol, settings.base_deployer)
        found = [
            GeneratedContract(
                template,
                naming.dao_contract_name(template, symbol),
                render(_template(directory / f"{template}.clar"), replacements),
                int(order),
            )
            for order, template in naming.DAO_TEMPLATES.items()
            if (directory / f"{template}.clar").exists()
        ]
        if not found:
            raise PermanentError(f"{directory} holds none of the DAO contract templates (aibtc-base-dao.clar, ...)")
    return sorted(found, key=lambda contract: (contract.order, contract.name))


async def agent_account_contract(
    settings: ContractSourceSettings, symbol: str, owner: str, agent: str
) -> GeneratedContract:
    """The agent account contract for `owner` and `agent`, named by the convention."""
    _configured(settings)
    name = naming.agent_account_name(owner, agent)
    if settings.generator_url:
        body = await _generate(
            settings,
            "api/generate-agent-account",
            {
                "name": AGENT_ACCOUNT_TEMPLATE,
                "network": settings.stacks_network,
                "tokenSymbol": symbol,
                "customReplacements": {"account_owner": owner, "account_agent": agent},
            },
        )
        contract = body.get("contract")
        if not isinstance(contract, dict) or not isinstance(contract.get("source"), str):
            raise RetryableError(f"{SERVICE} answered no contract source")
        source, version = contract["source"], int(contract.get("clarityVersion") or 3)
    else:
        template = _template(Path(settings.contracts_dir) / f"{AGENT_ACCOUNT_TEMPLATE}.clar")
        source, version = render(template, Replacements(symbol, settings.base_deployer, owner, agent)), 3
    for role, address in (("owner", owner), ("agent", agent)):
        if f"'{address}" not in source:
            raise PermanentError(f"the agent account source does not name its {role} {address}")
    return GeneratedContract(AGENT_ACCOUNT_TEMPLATE, name, source, int(naming.Order.AGENT_ACCOUNT), version)


async def _generate(settings: ContractSourceSettings, path: str, request: dict[str, Any]) -> dict[str, Any]:
    response = await asend(
        SERVICE, "POST", join(settings.generator_url, path), timeout=settings.generator_timeout_seconds, json=request
    )
    body = json_object(response, SERVICE)
    data = body.get("data", body)  # the generator wraps its answers as {"success": true, "data": ...}
    if not isinstance(data, dict):
        raise RetryableError(f"{SERVICE} answered outside its contract (data is not an object)")
    return data


def _generated(item: Any, symbol: str) -> GeneratedContract:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("source"), str):
        raise RetryableError(f"{SERVICE} answered a contract without its name or source")
    try:
        name = naming.dao_contract_name(item["name"], symbol)
    except naming.NamingError as exc:
        raise PermanentError(str(exc)) from None
    return GeneratedContract(
        item["name"], name, item["source"], int(item.get("deploymentOrder") or 0), int(item.get("clarityVersion") or 3)
    )
