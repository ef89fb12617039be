"""The aibtc notifications read from prints in both Chainhook shapes, and a proposal's parameters read as text."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.aibtc import notifications as n
from tasks.clarity import Ascii, UInt, Utf8, encode
from tests.tasks import dao_chain

pytestmark = pytest.mark.database_independent


def prints_of(block: dict[str, Any]) -> list[tuple[str, Any]]:
    """(contract, value) of each print in a Hiro block, as the delivery carries it."""
    found = []
    for tx in block["transactions"]:
        for event in tx["metadata"]["receipt"]["events"]:
            if event["type"] == "SmartContractEvent":
                data = event["data"]
                found.append((data["contract_identifier"], data["raw_value"] if "raw_value" in data else data["value"]))
    return found


@pytest.mark.parametrize("decoded", [False, True], ids=["raw_value", "decoded"])
def test_a_proposal_created_through_an_agent_account_reads_the_same_in_both_shapes(decoded: bool) -> None:
    (account, by_account), _, (voting, by_voting) = prints_of(
        dao_chain.proposal_created_through_agent_account(decoded=decoded)
    )
    assert (account, voting) == (dao_chain.ACCOUNTS[0], dao_chain.VOTING)
    assert n.parse_account(by_account) == n.AccountProposalCreated(
        voting_contract=dao_chain.VOTING,
        action=dao_chain.ACTION,
        parameters=dao_chain.PARAMETERS,
        sender=dao_chain.AGENTS[0],
        caller=dao_chain.AGENTS[0],
    )
    created = n.parse_voting(by_voting)
    assert isinstance(created, n.ProposalCreated)
    assert (created.proposal_id, created.creator, created.action) == (3, dao_chain.ACCOUNTS[0], dao_chain.ACTION)
    assert (created.vote_start, created.vote_end, created.exec_start, created.exec_end) == (
        dao_chain.VOTE_START,
        dao_chain.VOTE_END,
        dao_chain.EXEC_START,
        dao_chain.EXEC_END,
    )
    assert (created.bond, created.liquid_tokens, created.voting_quorum, created.voting_threshold) == (
        dao_chain.BOND,
        dao_chain.LIQUID,
        15,
        66,
    )
    assert created.memo == dao_chain.MEMO
    assert n.proposal_text(created.parameters) == n.ProposalText(
        text="Fund a month of translation work for the docs.\n\nReference: https://example.org/bloom/42",
        title="Translate the docs",
        tags=("docs", "community"),
    )


@pytest.mark.parametrize("decoded", [False, True], ids=["raw_value", "decoded"])
def test_votes_carry_the_account_as_voter_and_its_voting_power(decoded: bool) -> None:
    prints = prints_of(dao_chain.two_votes_through_agent_accounts(decoded=decoded))
    votes = [n.parse_voting(value) for contract, value in prints if contract == dao_chain.VOTING]
    assert [(v.voter, v.vote, v.amount) for v in votes if isinstance(v, n.VoteCast)] == [
        (dao_chain.ACCOUNTS[0], True, dao_chain.POWERS[0]),
        (dao_chain.ACCOUNTS[1], False, dao_chain.POWERS[1]),
    ]
    assert all(len(v.voter) > 64 for v in votes if isinstance(v, n.VoteCast))  # contract principals


@pytest.mark.parametrize("decoded", [False, True], ids=["raw_value", "decoded"])
def test_a_conclusion_that_failed_quorum_says_so(decoded: bool) -> None:
    prints = prints_of(dao_chain.conclusion_that_failed_quorum(decoded=decoded))
    (concluded,) = [n.parse_voting(v) for c, v in prints if c == dao_chain.VOTING]
    assert isinstance(concluded, n.ProposalConcluded)
    assert (concluded.met_quorum, concluded.met_threshold, concluded.passed, concluded.executed) == (
        False,
        True,
        False,
        False,
    )
    assert (concluded.votes_for, concluded.votes_against, concluded.status) == (*dao_chain.POWERS, 5)


def test_an_execution_error_is_its_own_event() -> None:
    value = {"notification": Ascii("bloom-action-proposal-voting/conclude-action-proposal"), "payload": {}}
    value["payload"] = {"executionError": UInt(1313)}
    assert n.parse_voting("0x" + encode(value).hex()) == n.ExecutionFailed(error=1313)


@pytest.mark.parametrize(
    "value",
    [
        None,  # the token's `none` memo print
        {"notification": "bloom-action-proposal-voting/vote-on-action-proposal", "payload": {"proposalId": 3}},
        {"notification": "bloom-action-proposal-voting/vote-on-action-proposal", "payload": "x"},
        {"notification": "bloom-treasury/withdraw-ft", "payload": {}},
        "0x0c",
    ],
)
def test_a_print_that_is_not_a_readable_voting_notification_is_an_error(value: Any) -> None:
    with pytest.raises(n.NotificationError):
        n.parse_voting(value)


def test_an_unknown_event_is_an_error_and_an_account_event_not_read_is_none() -> None:
    with pytest.raises(n.NotificationError, match="unknown voting extension notification"):
        n.parse_voting({"notification": "bloom-action-proposal-voting/set-x", "payload": {}})
    assert n.parse_account({"notification": "aibtc-agent-account/deposit-stx", "payload": {}}) is None
    with pytest.raises(n.NotificationError, match="unknown agent account notification"):
        n.parse_account({"notification": "aibtc-agent-account/self-destruct", "payload": {}})


def test_amounts_beyond_a_bigint_are_refused_not_truncated() -> None:
    payload = {"proposalId": 2**64, "voter": "ST1", "vote": True, "amount": 1, "contractCaller": "S", "txSender": "S"}
    with pytest.raises(n.NotificationError, match="proposalId"):
        n.parse_voting({"notification": "x-action-proposal-voting/vote-on-action-proposal", "payload": payload})


def test_parameters_without_metadata_or_not_a_string() -> None:
    assert n.proposal_text(encode(Utf8("Just do it"))) == n.ProposalText("Just do it", "", ())
    assert n.proposal_text(b"\x01\x02") == n.ProposalText("0x0102", "", ())


def test_parsed_events_survive_parking_as_json() -> None:
    prints = prints_of(dao_chain.conclusion_that_failed_quorum(decoded=False))
    concluded = n.parse_voting(prints[-1][1])
    assert concluded is not None
    assert n.from_data(n.ProposalConcluded, n.as_data(concluded)) == concluded
