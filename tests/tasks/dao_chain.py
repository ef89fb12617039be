"""A DAO's life on the chain, as the aibtc contracts print it, in Hiro's delivery format (either mode).

The DAO `bloom` (our values) is deployed by DEPLOYER; two owners each have an agent account
(`aibtc-acct-...`) run by their agent. Each builder returns one block in which the contracts
print exactly what `aibtc-agent-account.clar` and `aibtc-action-proposal-voting.clar` print for
that call, in the order they print it: the agent account first, then the voting extension.
"""

from __future__ import annotations

from typing import Any

from tasks.aibtc import naming
from tasks.clarity import Ascii, Principal, Some, UInt, Utf8, encode
from tests.tasks import hiro

SYMBOL = "BLOOM"
DEPLOYER = hiro.address("bloom deployer")
VOTING = f"{DEPLOYER}.{naming.voting_contract_name(SYMBOL)}"
BASE_DAO = f"{DEPLOYER}.{naming.dao_contract_name('aibtc-base-dao', SYMBOL)}"
TOKEN = f"{DEPLOYER}.{naming.dao_contract_name('aibtc-faktory', SYMBOL)}"
TREASURY = f"{DEPLOYER}.{naming.dao_contract_name('aibtc-treasury', SYMBOL)}"
ACTION = f"{DEPLOYER}.{naming.dao_contract_name('aibtc-action-send-message', SYMBOL)}"
OWNERS = [hiro.address("owner one"), hiro.address("owner two")]
AGENTS = [hiro.address("agent one"), hiro.address("agent two")]
ACCOUNTS = [f"{DEPLOYER}.{naming.agent_account_name(o, a)}" for o, a in zip(OWNERS, AGENTS, strict=True)]

PROPOSAL_ID = 3
CREATED_BTC = 93_200
VOTING_DELAY, VOTING_PERIOD = 12, 24
VOTE_START = CREATED_BTC + VOTING_DELAY
VOTE_END = VOTE_START + VOTING_PERIOD
EXEC_START = VOTE_END + VOTING_DELAY
EXEC_END = EXEC_START + VOTING_PERIOD
BOND = 25_000_000_000
LIQUID = 20_000_075_000_000_000
POWERS = [496_304_292_691, 111_218_681]
MESSAGE = (
    "Fund a month of translation work for the docs.\n\nReference: https://example.org/bloom/42"
    "\n\n--- Metadata ---\nTitle: Translate the docs\nTags: docs|community"
)
PARAMETERS = encode(Utf8(MESSAGE))
MEMO = "Contribution submitted via the bloom frontend"


def _tx(seed: str, **fields: Any) -> dict[str, Any]:
    return hiro.contract_call(seed, **fields)


def proposal_created_through_agent_account(height: int = 3_600_000, *, decoded: bool) -> dict[str, Any]:
    """Agent one calls its account's `create-action-proposal`; the account prints, the bond moves,
    the voting extension prints the proposal."""
    account, agent = ACCOUNTS[0], AGENTS[0]
    by_account = {
        "notification": Ascii("aibtc-agent-account/create-action-proposal"),
        "payload": {
            "proposalContract": Principal(VOTING),
            "action": Principal(ACTION),
            "parameters": PARAMETERS,
            "sender": Principal(agent),
            "caller": Principal(agent),
        },
    }
    by_voting = {
        "notification": Ascii(f"{naming.voting_contract_name(SYMBOL)}/create-action-proposal"),
        "payload": {
            "contractCaller": Principal(account),
            "txSender": Principal(account),
            "action": Principal(ACTION),
            "parameters": PARAMETERS,
            "bond": UInt(BOND),
            "caller": Principal(account),
            "creator": Principal(account),
            "liquidTokens": UInt(LIQUID),
            "memo": Some(Ascii(MEMO)),
            "createdBtc": UInt(CREATED_BTC),
            "createdStx": UInt(height - 1),
            "voteStart": UInt(VOTE_START),
            "voteEnd": UInt(VOTE_END),
            "execStart": UInt(EXEC_START),
            "execEnd": UInt(EXEC_END),
            "proposalId": UInt(PROPOSAL_ID),
            "votingPeriod": UInt(VOTING_PERIOD),
            "votingQuorum": UInt(15),
            "votingThreshold": UInt(66),
            "votingDelay": UInt(VOTING_DELAY),
            "votingReward": UInt(100_000_000_000),
        },
    }
    events = [
        hiro.print_event(account, by_account, 0, decoded=decoded),
        hiro.ft_transfer(f"{TOKEN}::{SYMBOL.lower()}", BOND, account, VOTING, 1),
        hiro.print_event(TOKEN, None, 2, decoded=decoded),  # the token prints its transfer memo: none
        hiro.print_event(VOTING, by_voting, 3, decoded=decoded),
    ]
    tx = _tx(
        f"create {height}",
        sender=agent,
        contract=account,
        method="create-action-proposal",
        args=[VOTING, ACTION, "0x" + PARAMETERS.hex(), f'(some "{MEMO}")'],
        events=events,
    )
    return hiro.block(height, CREATED_BTC, [tx])


def _vote(
    n: int, approve: bool, position: int, *, decoded: bool, power: int | None = None, seed: str = ""
) -> dict[str, Any]:
    account, agent = ACCOUNTS[n], AGENTS[n]
    by_account = {
        "notification": Ascii("aibtc-agent-account/vote-on-action-proposal"),
        "payload": {
            "proposalContract": Principal(VOTING),
            "proposalId": UInt(PROPOSAL_ID),
            "vote": approve,
            "sender": Principal(agent),
            "caller": Principal(agent),
        },
    }
    by_voting = {
        "notification": Ascii(f"{naming.voting_contract_name(SYMBOL)}/vote-on-action-proposal"),
        "payload": {
            "contractCaller": Principal(account),
            "txSender": Principal(account),
            "voter": Principal(account),
            "proposalId": UInt(PROPOSAL_ID),
            "amount": UInt(POWERS[n] if power is None else power),
            "vote": approve,
        },
    }
    return _tx(
        seed or f"vote {n}",
        sender=agent,
        contract=account,
        method="vote-on-action-proposal",
        args=[VOTING, f"u{PROPOSAL_ID}", "true" if approve else "false"],
        events=[
            hiro.print_event(account, by_account, 0, decoded=decoded),
            hiro.print_event(VOTING, by_voting, 1, decoded=decoded),
        ],
        position=position,
    )


def two_votes_through_agent_accounts(height: int = 3_600_050, *, decoded: bool) -> dict[str, Any]:
    """Both agents vote through their accounts in one block: one for, one against."""
    return hiro.block(height, VOTE_START + 1, [_vote(0, True, 0, decoded=decoded), _vote(1, False, 1, decoded=decoded)])


def votes_changed_in_block(height: int, powers: tuple[int, int], approvals: tuple[bool, bool]) -> dict[str, Any]:
    """Both agents vote again (a voter may change its vote and power), as `raw_value`."""
    votes = [_vote(n, approvals[n], n, decoded=False, power=powers[n], seed=f"vote {n} at {height}") for n in (0, 1)]
    return hiro.block(height, VOTE_START + 2, votes)


def conclusion_that_failed_quorum(height: int = 3_600_300, *, decoded: bool) -> dict[str, Any]:
    """Agent one concludes through its account; the votes cast were under the 15% quorum."""
    account, agent = ACCOUNTS[0], AGENTS[0]
    by_account = {
        "notification": Ascii("aibtc-agent-account/conclude-action-proposal"),
        "payload": {
            "proposalContract": Principal(VOTING),
            "proposalId": UInt(PROPOSAL_ID),
            "action": Principal(ACTION),
            "sender": Principal(agent),
            "caller": Principal(agent),
        },
    }
    by_voting = {
        "notification": Ascii(f"{naming.voting_contract_name(SYMBOL)}/conclude-action-proposal"),
        "payload": {
            "contractCaller": Principal(account),
            "txSender": Principal(account),
            "action": Principal(ACTION),
            "parameters": PARAMETERS,
            "bond": UInt(BOND),
            "creator": Principal(account),
            "liquidTokens": UInt(LIQUID),
            "memo": Some(Ascii(MEMO)),
            "proposalId": UInt(PROPOSAL_ID),
            "votesFor": UInt(POWERS[0]),
            "votesAgainst": UInt(POWERS[1]),
            "vetoVotes": UInt(0),
            "metQuorum": False,
            "metThreshold": True,
            "vetoMetQuorum": False,
            "vetoExceedsYes": False,
            "vetoed": False,
            "passed": False,
            "expired": False,
            "executed": False,
            "status": UInt(1 | 4),
        },
    }
    events = [
        hiro.print_event(account, by_account, 0, decoded=decoded),
        hiro.print_event(TOKEN, None, 1, decoded=decoded),
        hiro.ft_transfer(f"{TOKEN}::{SYMBOL.lower()}", BOND, VOTING, TREASURY, 2),
        hiro.print_event(VOTING, by_voting, 3, decoded=decoded),
    ]
    tx = _tx(
        f"conclude {height}",
        sender=agent,
        contract=account,
        method="conclude-action-proposal",
        args=[VOTING, f"u{PROPOSAL_ID}", ACTION],
        events=events,
    )
    return hiro.block(height, EXEC_START + 2, [tx])


def block_with_only_unrelated_prints(height: int = 3_600_400, *, decoded: bool) -> dict[str, Any]:
    """Another project's contract prints a notification of the same name: nothing of ours."""
    other = f"{hiro.address('someone else')}.other-action-proposal-voting"
    value = {
        "notification": Ascii("other-action-proposal-voting/vote-on-action-proposal"),
        "payload": {"proposalId": UInt(PROPOSAL_ID), "voter": Principal(OWNERS[0]), "vote": True},
    }
    tx = _tx(
        f"unrelated {height}",
        sender=OWNERS[0],
        contract=other,
        method="vote-on-action-proposal",
        args=[f"u{PROPOSAL_ID}", "true"],
        events=[hiro.print_event(other, value, 0, decoded=decoded)],
    )
    return hiro.block(height, VOTE_START + 3, [tx])


def deliver(*blocks: dict[str, Any], rollback: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return hiro.delivery(list(blocks), rollback, watched=VOTING)


def bloom_dao() -> Any:
    """The DAO these blocks talk about, registered as an operator would."""
    from tasks.models import DAO

    return DAO.objects.create(
        name="Bloom DAO",
        mission="Translate everything",
        token_symbol=SYMBOL,
        token_name="Bloom",
        token_max_supply=1_000_000_000,
        origin_address=DEPLOYER,
        dao_contract=BASE_DAO,
        token_contract=TOKEN,
        is_broadcast=True,
        is_deployed=True,
    )
