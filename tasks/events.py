"""Which prints of a transaction are ours, and what they say (the facts are in `tasks.aibtc.payloads`).

A print is read only from a contract this deployment knows: a DAO's voting extension
(`<deployer>.<symbol>-action-proposal-voting`, whose notifications are acted on) or one of our
agent accounts (whose notifications are checked and counted). A print from one of those that
does not parse is never skipped silently: it is logged with its transaction id and counted,
and the count reaches the job's result. Prints of every other contract are not ours.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from tasks.aibtc import naming
from tasks.aibtc import notifications as n
from tasks.chaindata import ChainTx
from tasks.models import DAO, AgentAccount

log = logging.getLogger(__name__)


def voting_contract(dao: DAO) -> str:
    """The DAO's voting extension: `<symbol>-action-proposal-voting`, deployed beside its other
    contracts (the deployer of `dao_contract`, else of `token_contract`); "" when unknown."""
    for principal in (dao.dao_contract, dao.token_contract):
        try:
            contract = naming.ContractId.parse(principal)
        except naming.NamingError:
            continue
        if contract.name.endswith("-action-proposal-voting"):
            return principal
        try:
            return str(naming.ContractId(contract.address, naming.voting_contract_name(dao.token_symbol)))
        except naming.NamingError:
            return ""
    return ""


@dataclass(frozen=True)
class KnownContracts:
    """The contracts whose prints are ours: voting extensions (by DAO) and our agent accounts."""

    voting: dict[str, DAO]
    accounts: frozenset[str]

    @classmethod
    def load(cls) -> KnownContracts:
        voting = {principal: dao for dao in DAO.objects.all() if (principal := voting_contract(dao))}
        accounts = AgentAccount.objects.exclude(account_contract="").values_list("account_contract", flat=True)
        return cls(voting, frozenset(accounts))

    def all(self) -> set[str]:
        return set(self.voting) | set(self.accounts)


@dataclass
class PrintsRead:
    """What reading a transaction's prints found besides the DAO events."""

    account_events: int = 0
    not_understood: list[str] = field(default_factory=list)


def dao_events(tx: ChainTx, known: KnownContracts, read: PrintsRead) -> Iterator[tuple[DAO, n.DaoEvent]]:
    """The voting notifications of `tx` (in print order) with their DAO; account prints are
    checked, and every print of a known contract that does not parse is logged and counted."""
    for printed in tx.prints:
        dao = known.voting.get(printed.contract_id)
        if dao is None and printed.contract_id not in known.accounts:
            continue
        try:
            if dao is not None:
                yield dao, n.parse_voting(printed.value())
            elif n.parse_account(printed.value()) is not None:
                read.account_events += 1
        except (n.NotificationError, ValueError) as exc:
            log.warning("transaction %s: a print of %s was not understood: %s", tx.tx_id, printed.contract_id, exc)
            read.not_understood.append(f"{tx.tx_id}: {printed.contract_id}: {exc}"[:500])
