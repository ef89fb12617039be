"""Hiro deliveries in the real shape, both decode modes, through `POST /api/chainhooks/<name>/` and `chainhook_block`.

The blocks are built by `tests/tasks/dao_chain.py` from the Clarity values the aibtc contracts
print: a proposal created through an agent account, two votes through agent accounts (contract
principals as voters), a conclusion that failed quorum, a block with only unrelated prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from jobqueue.models import Job, Status
from tasks.models import DAO, AgentAccount, Chainhook, ParkedEvent, Proposal, ProposalStatus, Vote
from tests.tasks import dao_chain
from tests.tasks.conftest import run

SECRET = "Bearer bloom-hook-secret-long-enough-to-pass"
URL = "/api/chainhooks/bloom-events/"


@pytest.fixture
def hook(configure: Callable[..., Any]) -> Chainhook:
    configure("chainhook_block")
    return Chainhook.objects.create(name="bloom-events", secret=SECRET, network="testnet")


@pytest.fixture
def bloom(make_dao: Callable[..., DAO]) -> DAO:
    """The DAO as deployed, with the first owner's agent account registered as ours."""
    dao = make_dao(
        dao_chain.SYMBOL,
        dao_contract=dao_chain.BASE_DAO,
        token_contract=dao_chain.TOKEN,
        origin_address=dao_chain.DEPLOYER,
    )
    AgentAccount.objects.create(
        owner_address=dao_chain.OWNERS[0],
        dao_token_contract=dao_chain.TOKEN,
        dao_dex_contract=f"{dao_chain.DEPLOYER}.bloom-faktory-dex",
        agent_address=dao_chain.AGENTS[0],
        account_contract=dao_chain.ACCOUNTS[0],
        tx_id="0xacc",
        is_deployed=True,
    )
    return dao


def deliver(body: dict[str, Any]) -> list[Job]:
    """POST a delivery over HTTP as Chainhook does, then run the block jobs it enqueued."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=SECRET)
    response = client.post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 202, response.content
    return [run(Job.objects.get(pk=pk)) for pk in response.json()["jobs"]]


MODES = pytest.mark.parametrize("decoded", [False, True], ids=["raw_value", "decode_clarity_values"])


@MODES
def test_a_proposal_created_through_an_agent_account_is_recorded_with_its_text_window_and_action(
    hook: Chainhook, bloom: DAO, decoded: bool
) -> None:
    (job,) = deliver(dao_chain.deliver(dao_chain.proposal_created_through_agent_account(decoded=decoded)))
    assert job.status == Status.SUCCEEDED, job.last_error
    proposal = Proposal.objects.get()
    assert (proposal.dao, proposal.onchain_id, proposal.title) == (bloom, 3, "Translate the docs")
    assert proposal.content.startswith("Fund a month of translation work")
    assert "--- Metadata ---" not in proposal.content
    assert proposal.tags == ["docs", "community"]
    assert (proposal.action_contract, proposal.voting_contract) == (dao_chain.ACTION, dao_chain.VOTING)
    assert (proposal.starts_at_block, proposal.ends_at_block, proposal.executes_at_block, proposal.exec_end_block) == (
        dao_chain.VOTE_START,
        dao_chain.VOTE_END,
        dao_chain.EXEC_START,
        dao_chain.EXEC_END,
    )
    assert (proposal.creator, proposal.memo, proposal.bond) == (dao_chain.ACCOUNTS[0], dao_chain.MEMO, dao_chain.BOND)
    assert job.result["data"]["account_events"] == 1  # the account's own print, read and counted
    assert "not_understood" not in job.result["data"]


@MODES
def test_votes_through_agent_accounts_record_contract_principal_voters_and_voting_power(
    hook: Chainhook, bloom: DAO, decoded: bool
) -> None:
    deliver(dao_chain.deliver(dao_chain.proposal_created_through_agent_account(decoded=decoded)))
    (job,) = deliver(dao_chain.deliver(dao_chain.two_votes_through_agent_accounts(decoded=decoded)))
    assert job.status == Status.SUCCEEDED, job.last_error
    votes = sorted(Vote.objects.values_list("wallet_address", "approve", "amount", "voted"))
    assert votes == sorted(
        [
            (dao_chain.ACCOUNTS[0], True, dao_chain.POWERS[0], True),
            (dao_chain.ACCOUNTS[1], False, dao_chain.POWERS[1], True),
        ]
    )


@MODES
def test_a_conclusion_that_failed_quorum_is_recorded_as_failed_with_its_outcome(
    hook: Chainhook, bloom: DAO, decoded: bool
) -> None:
    deliver(
        dao_chain.deliver(
            dao_chain.proposal_created_through_agent_account(decoded=decoded),
            dao_chain.two_votes_through_agent_accounts(decoded=decoded),
        )
    )
    (job,) = deliver(dao_chain.deliver(dao_chain.conclusion_that_failed_quorum(decoded=decoded)))
    assert job.status == Status.SUCCEEDED, job.last_error
    proposal = Proposal.objects.get()
    assert proposal.status == ProposalStatus.FAILED
    assert (proposal.met_quorum, proposal.met_threshold, proposal.passed, proposal.executed) == (
        False,
        True,
        False,
        False,
    )
    assert (proposal.votes_for, proposal.votes_against, proposal.conclusion_status) == (*dao_chain.POWERS, 5)
    assert Job.objects.filter(job_type__name="discord", payload__proposal_status="failed").count() == 1


@MODES
def test_the_same_blocks_delivered_again_change_nothing(hook: Chainhook, bloom: DAO, decoded: bool) -> None:
    blocks = [
        dao_chain.proposal_created_through_agent_account(decoded=decoded),
        dao_chain.two_votes_through_agent_accounts(decoded=decoded),
        dao_chain.conclusion_that_failed_quorum(decoded=decoded),
    ]
    deliver(dao_chain.deliver(*blocks))

    def snapshot() -> Any:
        return (
            list(Proposal.objects.values()),
            list(Vote.objects.values()),
            sorted(Job.objects.exclude(job_type__name="chainhook_block").values_list("pk", flat=True)),
        )

    before = snapshot()
    # Another chainhook (another uuid, so no duplicate key) delivers the same blocks.
    Chainhook.objects.create(name="bloom-events-2", secret=SECRET + "2", network="testnet")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=SECRET + "2")
    response = client.post("/api/chainhooks/bloom-events-2/", dao_chain.deliver(*blocks), format="json")
    jobs = [run(Job.objects.get(pk=pk)) for pk in response.json()["jobs"]]
    assert all(j.status == Status.SUCCEEDED for j in jobs)
    assert snapshot() == before


@MODES
def test_votes_and_a_conclusion_seen_before_their_proposal_wait_for_it(
    hook: Chainhook, bloom: DAO, decoded: bool
) -> None:
    jobs = deliver(
        dao_chain.deliver(
            dao_chain.two_votes_through_agent_accounts(decoded=decoded),
            dao_chain.conclusion_that_failed_quorum(decoded=decoded),
        )
    )
    assert [len(j.result["data"]["parked"]) for j in jobs] == [2, 1]
    assert ParkedEvent.objects.count() == 3
    assert not Vote.objects.exists()
    deliver(dao_chain.deliver(dao_chain.proposal_created_through_agent_account(decoded=decoded)))
    assert Vote.objects.count() == 2
    proposal = Proposal.objects.get()
    assert (proposal.status, proposal.met_quorum) == (ProposalStatus.FAILED, False)
    assert not ParkedEvent.objects.exists()


@MODES
def test_a_block_with_only_unrelated_prints_is_nothing_of_ours(hook: Chainhook, bloom: DAO, decoded: bool) -> None:
    (job,) = deliver(dao_chain.deliver(dao_chain.block_with_only_unrelated_prints(decoded=decoded)))
    assert job.result["message"] == f"block {job.payload['block']['height']}: nothing of ours"
    assert not Vote.objects.exists()


@MODES
def test_a_print_of_our_voting_extension_that_does_not_parse_is_counted_not_dropped(
    hook: Chainhook, bloom: DAO, decoded: bool, caplog: pytest.LogCaptureFixture
) -> None:
    block = dao_chain.two_votes_through_agent_accounts(decoded=decoded)
    event = block["transactions"][0]["metadata"]["receipt"]["events"][1]
    # A print of the voting extension whose payload lacks fields (as a changed contract would print).
    event["data"].pop("raw_value", None)
    event["data"]["value"] = {"notification": "bloom-action-proposal-voting/vote-on-action-proposal", "payload": {}}
    (job,) = deliver(dao_chain.deliver(block))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert job.result["data"]["not_understood"] == 1
    assert job.result["counters"]["not_understood"] == 1
    tx_id = block["transactions"][0]["transaction_identifier"]["hash"]
    assert job.result["data"]["prints_not_understood"][0].startswith(f"{tx_id}: {dao_chain.VOTING}")
    assert "nothing of ours" not in job.result["message"]
    assert tx_id in caplog.text


@MODES
def test_a_rollback_removes_the_proposal_created_through_an_agent_account(
    hook: Chainhook, bloom: DAO, decoded: bool
) -> None:
    created = dao_chain.proposal_created_through_agent_account(decoded=decoded)
    deliver(dao_chain.deliver(created))
    assert Proposal.objects.count() == 1
    (job,) = deliver(dao_chain.deliver(rollback=[created]))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert not Proposal.objects.exists()
    assert job.result["data"]["removed"]
