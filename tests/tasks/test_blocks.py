"""`chain_block_replay`: a block's transactions read from the Stacks API (recorded responses) and applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import Job, Status
from tasks.models import DAO, AgentAccount, ChainState, Proposal, ProposalStatus, Vote
from tests.tasks.conftest import OWNER, WALLET, run
from tests.tasks.recorded import RecordedChain, load

CREATES = "stacks_api/block_150000_creates_proposal_7.json"
CONCLUDES = "stacks_api/block_150100_votes_and_concludes_proposal_7.json"
DEPLOYS = "stacks_api/block_149000_confirms_dao_deployment.json"
# The owner's agent account (agent: AGENT) and the DAO's voting extension, as the recordings name them.
AGENT = "SP1H48DQAJ7K9QDJCH7H752BT0PVQTTJYVRBGMR1W"
ACCOUNT = f"{WALLET}.aibtc-acct-SP3FB-5SVTE-SP1H4-GMR1W"
VOTING = f"{WALLET}.face-action-proposal-voting"


@pytest.fixture
def chain(configure: Any, httpserver: HTTPServer) -> RecordedChain:
    recorded = RecordedChain(httpserver)
    configure("chain_block_replay", chain_api_url=recorded.url)
    return recorded


@pytest.fixture
def face(make_dao: Callable[..., DAO]) -> DAO:
    """The DAO the recorded blocks talk about, with one agent account that votes on its proposals."""
    dao = make_dao("FACE")
    AgentAccount.objects.create(
        owner_address=OWNER,
        dao_token_contract=dao.token_contract,
        dao_dex_contract=f"{WALLET}.face-dex",
        agent_address="SP1H4K0N2KCW6PS8DQRQ02ZXCHD8XBQQ2VE0GMR1W",
        account_contract=ACCOUNT,
        tx_id="0xacc",
        is_deployed=True,
    )
    return dao


def replay(height: int) -> Job:
    return run(enqueue("chain_block_replay", {"height": height}))


def jobs(name: str) -> list[Job]:
    return list(Job.objects.filter(job_type__name=name).order_by("created_at"))


def test_a_proposal_creation_is_recorded_and_its_evaluation_and_conclusion_enqueued(
    chain: RecordedChain, face: DAO
) -> None:
    chain.add(load(CREATES)).at(burn_height=870001)
    ChainState.objects.create(network="mainnet", last_height=149_999)
    job = replay(150_000)
    assert job.status == Status.SUCCEEDED, job.last_error
    proposal = Proposal.objects.get()
    assert (proposal.dao, proposal.onchain_id, proposal.title) == (face, 7, "Fund the docs")
    assert (proposal.starts_at_block, proposal.ends_at_block, proposal.executes_at_block) == (870012, 870156, 870168)
    # Created through the owner's agent account: the account is the creator, its agent sent it.
    assert (proposal.creator, proposal.caller, proposal.tx_sender) == (ACCOUNT, ACCOUNT, ACCOUNT)
    assert (proposal.content, proposal.tags) == ("Pay two writers for a month.", ["docs", "writing"])
    assert (proposal.action_contract, proposal.voting_contract) == (f"{WALLET}.face-action-send-message", VOTING)
    assert (proposal.bond, proposal.liquid_tokens, proposal.voting_quorum, proposal.voting_threshold) == (
        25_000_000_000,
        20_000_075_000_000_000,
        15,
        66,
    )
    assert (proposal.created_at_block, proposal.exec_end_block, proposal.memo) == (
        870000,
        870312,
        "Contribution submitted via the FACE frontend",
    )
    (evaluation,) = jobs("dao_proposal_evaluation")
    assert evaluation.payload == {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}
    assert evaluation.created_by == f"block:0x{'a' * 64}"
    (conclusion,) = jobs("dao_proposal_conclude")
    # 167 burn blocks to go at 600 s each.
    wait = (conclusion.run_after - timezone.now()).total_seconds()
    assert 167 * 600 - 60 < wait <= 167 * 600
    state = ChainState.objects.get()
    assert (state.last_height, state.block_hash) == (150_000, f"0x{'a' * 64}")
    assert job.result["data"]["proposals"] == [proposal.pk]
    # Both pages of transactions were read, and events only for the DAO's transaction.
    requested = chain.requests()
    assert "/extended/v2/blocks/150000/transactions?offset=2" in requested
    assert [r for r in requested if r.startswith("/extended/v1/tx/events")] == [
        f"/extended/v1/tx/events?tx_id=0x{'2' * 64}&offset=0"
    ]


def test_replaying_a_block_twice_changes_nothing(chain: RecordedChain, face: DAO) -> None:
    chain.add(load(CREATES)).add(load(CONCLUDES)).at(burn_height=870001)
    for height in (150_000, 150_100):
        assert replay(height).status == Status.SUCCEEDED
    snapshot = (
        list(Proposal.objects.values()),
        list(Vote.objects.values()),
        sorted(Job.objects.exclude(job_type__name="chain_block_replay").values_list("pk", flat=True)),
    )
    for height in (150_000, 150_100):
        again = replay(height)
        assert again.status == Status.SUCCEEDED
        assert again.result["message"] == f"block {height}: nothing of ours"
    after = (
        list(Proposal.objects.values()),
        list(Vote.objects.values()),
        sorted(Job.objects.exclude(job_type__name="chain_block_replay").values_list("pk", flat=True)),
    )
    assert after == snapshot


def test_a_vote_and_a_conclusion_are_recorded_and_announced_once(chain: RecordedChain, face: DAO) -> None:
    chain.add(load(CREATES)).add(load(CONCLUDES)).at(burn_height=870001)
    replay(150_000)
    job = replay(150_100)
    assert job.status == Status.SUCCEEDED, job.last_error
    proposal = Proposal.objects.get()
    assert proposal.status == ProposalStatus.PASSED
    assert (proposal.met_quorum, proposal.met_threshold, proposal.passed, proposal.executed) == (True, True, True, True)
    assert (proposal.votes_for, proposal.votes_against, proposal.conclusion_status) == (5 * 10**15, 0, 31)
    assert (proposal.conclusion_tx_id, proposal.conclusion_tx_status) == (f"0x{'5' * 64}", "success")
    vote = Vote.objects.get()
    assert (vote.wallet_address, vote.approve, vote.voted, vote.confidence) == (ACCOUNT, True, True, None)
    assert vote.amount == 5_000_000_000_000_000
    assert vote.tx_id == f"0x{'4' * 64}"
    (discord,) = jobs("discord")
    # Worded as the seed's backend: participation is votes over liquid tokens, approval for over cast.
    text = "✅ Approved: proposal #7 of FACE DAO\nFund the docs\n\nParticipation: 25.0%\nApproval: 100.0%"
    assert (discord.payload["content"], discord.payload["proposal_status"]) == (text, "passed")
    (tweet,) = jobs("tweet")
    approved = "Pay two writers for a month.\n\napproved by proposal #7 of FACE DAO"
    assert (tweet.payload["text"], tweet.payload["dao_id"]) == (approved, face.pk)


def test_a_confirmed_deployment_marks_the_dao_deployed_and_enqueues_its_launch_post(
    chain: RecordedChain, make_dao: Callable[..., DAO]
) -> None:
    dao = make_dao("FACE", is_deployed=False, deployment_tx_id=f"0x{'8' * 64}")
    chain.add(load(DEPLOYS))
    assert replay(149_000).status == Status.SUCCEEDED
    dao.refresh_from_db()
    assert (dao.is_deployed, dao.deployment_tx_status) == (True, "success")
    (launch,) = jobs("dao_deployment_tweet")
    assert launch.payload == {"dao_id": dao.pk}
    assert replay(149_000).status == Status.SUCCEEDED
    assert len(jobs("dao_deployment_tweet")) == 1


def test_chain_state_never_advances_past_an_unprocessed_block(chain: RecordedChain, face: DAO) -> None:
    recorded = load(CREATES)
    recorded["/extended/v2/blocks/150000/transactions?offset=2"] = 503  # the second page fails
    chain.add(recorded).at(burn_height=870001)
    ChainState.objects.create(network="mainnet", last_height=149_999)
    job = replay(150_000)
    assert job.status == Status.RETRYING
    assert "503" in job.last_error
    assert ChainState.objects.get().last_height == 149_999
    assert not Proposal.objects.exists()
    assert not jobs("dao_proposal_evaluation")
