"""How aibtc contracts are named once deployed (facts, no I/O).

A DAO is generated from templates named `aibtc-...`; at generation the first `aibtc` of each
template's name is replaced by the DAO token's symbol in lower case (`aibtc-base-dao` becomes
`faces2-base-dao`, `xyk-pool-sbtc-aibtc-v-1-1` becomes `xyk-pool-sbtc-faces2-v-1-1`). An agent
account is one contract per (owner, agent) pair, named from the first and last five characters
of both addresses. Contract names are at most 128 characters (Clarity's limit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

TEMPLATE_PREFIX = "aibtc"
MAX_CONTRACT_NAME = 128
# A standard principal is a c32 address; a contract principal adds "." and the contract name.
STANDARD_PRINCIPAL = re.compile(r"^S[0-9A-HJKMNP-TV-Z]{38,40}$")
CONTRACT_NAME = re.compile(r"^[a-zA-Z]([a-zA-Z0-9]|[-_])*$")
# A principal column must hold the longest contract principal: 41 + 1 + 128.
MAX_PRINCIPAL_LENGTH = 41 + 1 + MAX_CONTRACT_NAME
AGENT_ACCOUNT_NAME = re.compile(r"^aibtc-acct-([0-9A-Z]{5})-([0-9A-Z]{5})-([0-9A-Z]{5})-([0-9A-Z]{5})$")


class Order(IntEnum):
    """A template's place in a DAO's deployment: lower deploys first (contract-deployment-order.ts)."""

    AGENT_ACCOUNT = 1
    TOKEN = 10
    PRELAUNCH = 11
    POOL = 12
    DEX = 13
    BASE_DAO = 20
    TREASURY = 30
    ACTION_PROPOSAL_VOTING = 31
    DAO_CHARTER = 32
    DAO_EPOCH = 33
    ONCHAIN_MESSAGING = 34
    TOKEN_OWNER = 35
    ACTION_SEND_MESSAGE = 40
    INITIALIZE_DAO = 50
    TRADING_FAKTORY_SBTC = 60
    TRADING_BITFLOW_SBTC = 61
    TRADING_FAKTORY_BUY_AND_DEPOSIT = 62
    TRADING_BITFLOW_BUY_AND_DEPOSIT = 63


# Template name of each DAO contract (agent accounts are named separately, see agent_account_name).
DAO_TEMPLATES: dict[Order, str] = {
    Order.TOKEN: "aibtc-faktory",
    Order.PRELAUNCH: "aibtc-pre-faktory",
    Order.POOL: "xyk-pool-sbtc-aibtc-v-1-1",
    Order.DEX: "aibtc-faktory-dex",
    Order.BASE_DAO: "aibtc-base-dao",
    Order.TREASURY: "aibtc-treasury",
    Order.ACTION_PROPOSAL_VOTING: "aibtc-action-proposal-voting",
    Order.DAO_CHARTER: "aibtc-dao-charter",
    Order.DAO_EPOCH: "aibtc-dao-epoch",
    Order.ONCHAIN_MESSAGING: "aibtc-onchain-messaging",
    Order.TOKEN_OWNER: "aibtc-token-owner",
    Order.ACTION_SEND_MESSAGE: "aibtc-action-send-message",
    Order.INITIALIZE_DAO: "aibtc-base-initialize-dao",
    Order.TRADING_FAKTORY_SBTC: "aibtc-acct-swap-faktory-aibtc-sbtc",
    Order.TRADING_BITFLOW_SBTC: "aibtc-acct-swap-bitflow-aibtc-sbtc",
    Order.TRADING_FAKTORY_BUY_AND_DEPOSIT: "aibtc-faktory-buy-and-deposit",
    Order.TRADING_BITFLOW_BUY_AND_DEPOSIT: "aibtc-bitflow-buy-and-deposit",
}


class NamingError(ValueError):
    """A symbol, address or contract name that cannot name an aibtc contract."""


def dao_contract_name(template: str, symbol: str) -> str:
    """The deployed name of `template` for the DAO whose token symbol is `symbol`.

    Only the first `aibtc` is replaced, as the generator does (`str.replace` of JavaScript
    with a string pattern), and the symbol is lower-cased.
    """
    name = template.replace(TEMPLATE_PREFIX, symbol.lower(), 1)
    if not CONTRACT_NAME.match(name) or len(name) > MAX_CONTRACT_NAME:
        raise NamingError(f"{symbol!r} does not make a valid contract name from {template!r} ({name!r})")
    return name


def dao_contract_names(symbol: str) -> dict[Order, str]:
    """Every DAO contract's deployed name, in deployment order."""
    return {order: dao_contract_name(DAO_TEMPLATES[order], symbol) for order in sorted(DAO_TEMPLATES)}


def voting_contract_name(symbol: str) -> str:
    """`<symbol>-action-proposal-voting`: the extension that prints proposal notifications."""
    return dao_contract_name(DAO_TEMPLATES[Order.ACTION_PROPOSAL_VOTING], symbol)


def agent_account_name(owner: str, agent: str) -> str:
    """`aibtc-acct-<owner first 5>-<owner last 5>-<agent first 5>-<agent last 5>`."""
    for role, address in (("owner", owner), ("agent", agent)):
        if not STANDARD_PRINCIPAL.match(address):
            raise NamingError(f"the {role} {address!r} is not a standard Stacks address (S..., c32)")
    return f"aibtc-acct-{owner[:5]}-{owner[-5:]}-{agent[:5]}-{agent[-5:]}"


@dataclass(frozen=True)
class ContractId:
    """A contract principal split into its deployer address and its name."""

    address: str
    name: str

    @classmethod
    def parse(cls, principal: str) -> ContractId:
        address, dot, name = principal.partition(".")
        if not dot or not STANDARD_PRINCIPAL.match(address) or not CONTRACT_NAME.match(name):
            raise NamingError(f"{principal!r} is not a contract principal (<address>.<contract-name>)")
        if len(name) > MAX_CONTRACT_NAME:
            raise NamingError(f"{principal!r}: a contract name has at most {MAX_CONTRACT_NAME} characters")
        return cls(address, name)

    def __str__(self) -> str:
        return f"{self.address}.{self.name}"


def is_agent_account(principal: str) -> bool:
    """Whether `principal` is a contract named as an aibtc agent account."""
    _, dot, name = principal.partition(".")
    return bool(dot) and AGENT_ACCOUNT_NAME.match(name) is not None
