"""`chain_block_replay`: the print events of our contracts read back from the Stacks API's
contract-events list (recorded blocks, and blocks built in Hiro's format) and applied in chain order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import Job, Status
from tasks.models import DAO, AgentAccount, ChainState, ContractCursor, Proposal, ProposalStatus, Vote
from tests.tasks import dao_chain
from tests.tasks.conftest import WALLET, face_with_account, make_due, run
from tests.tasks.recorded import RecordedChain, load

CREATES = "stacks_api/block_150000_creates_proposal_7.json"
CONCLUDES = "stacks_api/block_150100_votes_and_concludes_proposal_7.json"
# The owner's agent account (agent: AGENT) and the DAO's voting extension, as the recordings name them.
AGENT = "SP1H48DQAJ7K9QDJCH7H752BT0PVQTTJYVRBGMR1W"
ACCOUNT = f"{WALLET}.aibtc-acct-SP3FB-5SVTE-SP1H4-GMR1W"
VOTING = f"{WALLET}.face-action-proposal-voting"
TIP = 3_600_500  # above every block dao_chain builds


@pytest.fixture
def chain(configure: Any, httpserver: HTTPServer) -> RecordedChain:
    recorded = RecordedChain(httpserver)
    configure("chain_block_replay", chain_api_url=recorded.url)
    return recorded


def bloom_accounts() -> None:
    for n, account in enumerate(dao_chain.ACCOUNTS):
        AgentAccount.objects.create(
            owner_address=dao_chain.OWNERS[n],
            agent_address=dao_chain.AGENTS[n],
            dao_token_contract=dao_chain.TOKEN,
            account_contract=account,
            tx_id=f"0xacc{n}",
            tx_status="success",
            is_deployed=True,
        )


@pytest.fixture
def bloom(db: None) -> DAO:
    """The DAO of `dao_chain`, with both owners' agent accounts."""
    dao = dao_chain.bloom_dao()
    bloom_accounts()
    return dao


def created() -> dict[str, Any]:
    return dao_chain.proposal_created_through_agent_account(decoded=False)


def voted() -> dict[str, Any]:
    return dao_chain.two_votes_through_agent_accounts(decoded=False)


def concluded() -> dict[str, Any]:
    return dao_chain.conclusion_that_failed_quorum(decoded=False)


def replay(network: str = "mainnet") -> Job:
    return run(enqueue("chain_block_replay", {"network": network}))


def jobs(name: str) -> list[Job]:
    return list(Job.objects.filter(job_type__name=name).order_by("created_at"))


def snapshot() -> Any:
    return (
        list(Proposal.objects.order_by("pk").values()),
        list(Vote.objects.order_by("pk").values()),
        sorted(Job.objects.exclude(job_type__name="chain_block_replay").values_list("pk", flat=True)),
    )


def cursors() -> dict[str, tuple[int, int, int]]:
    return {c.contract_id: c.place for c in ContractCursor.objects.all()}


def events_read(chain: RecordedChain) -> list[str]:
    return [r for r in chain.requests() if r.startswith("/extended/v1/contract/")]


def txs_read(chain: RecordedChain) -> list[str]:
    return [r for r in chain.requests() if r.startswith("/extended/v1/tx/0x")]


@pytest.fixture
def face(make_dao: Callable[..., DAO]) -> DAO:
    """FACE with the agent account of the recorded deliveries (its real name)."""
    return face_with_account(make_dao, agent="SP1H4K0N2KCW6PS8DQRQ02ZXCHD8XBQQ2VE0GMR1W", account=ACCOUNT)


def test_a_proposal_creation_is_recorded_and_its_evaluation_and_conclusion_enqueued(
    chain: RecordedChain, face: DAO
) -> None:
    chain.add_recorded_block(load(CREATES)).at(burn_height=870001)
    ChainState.objects.create(network="mainnet", last_height=149_999)
    job = replay()
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
    # Each known contract's print events were listed, and the one transaction they name was read once.
    assert sorted(events_read(chain)) == sorted(f"/extended/v1/contract/{c}/events?offset=0" for c in (VOTING, ACCOUNT))
    assert txs_read(chain) == [f"/extended/v1/tx/0x{'2' * 64}"]
    assert cursors() == {VOTING: (150_000, 1, 1), ACCOUNT: (150_000, 1, 0)}


def test_a_vote_and_a_conclusion_are_recorded_and_announced_once(chain: RecordedChain, face: DAO) -> None:
    chain.add_recorded_block(load(CREATES)).at(burn_height=870001, stacks_height=150_100)
    assert replay().status == Status.SUCCEEDED
    chain.add_recorded_block(load(CONCLUDES))
    job = replay()
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
    assert job.result["data"]["blocks"] == [150_100]  # the creation was read by the first replay


def test_nothing_is_applied_while_the_api_fails_to_answer_for_a_transaction(chain: RecordedChain, face: DAO) -> None:
    chain.add_recorded_block(load(CREATES)).at(burn_height=870001)
    ChainState.objects.create(network="mainnet", last_height=149_999)
    chain.failing = lambda request: 503 if request.path.endswith("2" * 64) else None
    job = replay()
    assert job.status == Status.RETRYING
    assert "503" in job.last_error
    assert ChainState.objects.get().last_height == 149_999
    assert not Proposal.objects.exists()
    assert not jobs("dao_proposal_evaluation")
    assert not ContractCursor.objects.exists()


def test_a_proposal_two_votes_and_a_conclusion_made_through_agent_accounts_are_read_from_the_voting_contract(
    chain: RecordedChain, bloom: DAO
) -> None:
    chain.add_blocks(created(), voted(), concluded()).at(burn_height=dao_chain.CREATED_BTC, stacks_height=TIP)
    ChainState.objects.create(network="testnet", last_height=3_599_999)
    job = replay("testnet")
    assert job.status == Status.SUCCEEDED, job.last_error
    proposal = Proposal.objects.get()
    assert (proposal.title, proposal.action_contract, proposal.creator) == (
        "Translate the docs",
        dao_chain.ACTION,
        dao_chain.ACCOUNTS[0],
    )
    assert (proposal.starts_at_block, proposal.ends_at_block) == (dao_chain.VOTE_START, dao_chain.VOTE_END)
    assert sorted(Vote.objects.values_list("wallet_address", "approve", "amount")) == sorted(
        zip(dao_chain.ACCOUNTS, (True, False), dao_chain.POWERS, strict=True)
    )
    assert (proposal.status, proposal.met_quorum, proposal.met_threshold) == (ProposalStatus.FAILED, False, True)
    assert job.result["data"]["blocks"] == [3_600_000, 3_600_050, 3_600_300]
    # 1 creation, 2 votes, 1 conclusion by the voting extension; 4 prints by the two accounts.
    assert (job.result["data"]["events"], job.result["data"]["account_events"]) == (4, 4)
    assert job.result["counters"].get("not_understood", 0) == 0
    # The voting extension and both accounts were listed; each of the four transactions read once.
    assert len(events_read(chain)) == 3
    assert len(txs_read(chain)) == len(set(txs_read(chain))) == 4
    assert cursors() == {
        dao_chain.VOTING: (3_600_300, 0, 3),
        dao_chain.ACCOUNTS[0]: (3_600_300, 0, 0),
        dao_chain.ACCOUNTS[1]: (3_600_050, 1, 0),
    }
    # Every event of ours up to the tip is applied: the state follows the tip it read.
    state = ChainState.objects.get()
    assert (state.last_height, state.held_at) == (TIP, None)


def test_a_second_replay_reads_nothing_new_and_changes_nothing(chain: RecordedChain, bloom: DAO) -> None:
    chain.add_blocks(created(), voted(), concluded()).at(burn_height=dao_chain.CREATED_BTC, stacks_height=TIP)
    assert replay().status == Status.SUCCEEDED
    before, marks = snapshot(), cursors()
    chain.httpserver.clear_log()
    again = replay()
    assert again.status == Status.SUCCEEDED, again.last_error
    assert again.result["message"].endswith("0 new print(s) in 0 block(s): nothing new"), again.result
    assert (snapshot(), cursors()) == (before, marks)
    # One page per contract, stopped at the cursor: no transaction read again.
    assert len(events_read(chain)) == 3
    assert txs_read(chain) == []


def test_events_read_again_are_reported_as_already_applied(chain: RecordedChain, bloom: DAO) -> None:
    """An operator clears the cursors to read everything again: the same events, no change, and
    the result says so instead of "nothing of ours"."""
    chain.add_blocks(created(), voted(), concluded()).at(burn_height=dao_chain.CREATED_BTC, stacks_height=TIP)
    assert replay().status == Status.SUCCEEDED
    before = snapshot()
    ContractCursor.objects.all().delete()
    again = replay()
    assert again.status == Status.SUCCEEDED, again.last_error
    assert again.result["message"].endswith("8 event(s) of ours, all already applied: 0 changes"), again.result
    assert "nothing of ours" not in again.result["message"]
    assert snapshot() == before


def test_more_than_a_page_of_events_is_read_to_the_cursor_and_applied_in_chain_order(
    chain: RecordedChain, bloom: DAO
) -> None:
    """27 blocks of votes after the first two: 57 prints of the voting extension, two pages of 50.
    Each block changes both votes; the last block's decision and power must be what is kept."""
    changes = [
        dao_chain.votes_changed_in_block(3_600_100 + i, (1_000 + i, 2_000 + i), (i % 2 == 0, i % 2 == 1))
        for i in range(27)
    ]
    chain.add_blocks(created(), voted(), *changes).at(burn_height=dao_chain.CREATED_BTC, stacks_height=TIP)
    job = replay()
    assert job.status == Status.SUCCEEDED, job.last_error
    assert f"/extended/v1/contract/{dao_chain.VOTING}/events?offset=50" in events_read(chain)
    assert job.result["data"]["events"] == 1 + 2 + 27 * 2
    last = 26
    assert sorted(Vote.objects.values_list("wallet_address", "approve", "amount")) == sorted(
        [(dao_chain.ACCOUNTS[0], True, 1_000 + last), (dao_chain.ACCOUNTS[1], False, 2_000 + last)]
    )
    assert cursors()[dao_chain.VOTING] == (3_600_126, 1, 1)

    # Three more blocks: the next replay reads only the first page, down to its cursor.
    chain.add_blocks(*(dao_chain.votes_changed_in_block(3_600_200 + i, (7, 8), (False, True)) for i in range(3)))
    chain.httpserver.clear_log()
    job = replay()
    assert job.status == Status.SUCCEEDED, job.last_error
    assert job.result["data"]["blocks"] == [3_600_200, 3_600_201, 3_600_202]
    assert all(r.endswith("offset=0") for r in events_read(chain))
    assert len(txs_read(chain)) == 3 * 2  # the new votes' transactions; the cursor's event ends each list
    assert sorted(Vote.objects.values_list("approve", "amount")) == [(False, 7), (True, 8)]


def test_a_dao_registered_later_has_its_voting_contract_read_from_its_start(chain: RecordedChain, db: None) -> None:
    chain.add_blocks(created(), voted(), concluded()).at(burn_height=dao_chain.CREATED_BTC, stacks_height=TIP)
    bloom_accounts()
    first = replay()
    assert first.status == Status.SUCCEEDED, first.last_error
    # Only the accounts are known: their prints are counted, no proposal can be recorded.
    assert (first.result["data"]["account_events"], first.result["data"].get("events", 0)) == (4, 0)
    assert not Proposal.objects.exists()
    assert set(cursors()) == set(dao_chain.ACCOUNTS)

    dao_chain.bloom_dao()
    second = replay()
    assert second.status == Status.SUCCEEDED, second.last_error
    assert second.result["data"]["events"] == 4
    assert second.result["data"].get("account_events", 0) == 0  # the accounts' prints were read before
    proposal = Proposal.objects.get()
    assert (proposal.status, Vote.objects.count()) == (ProposalStatus.FAILED, 2)
    assert cursors()[dao_chain.VOTING] == (3_600_300, 0, 3)


def test_events_above_the_tip_read_wait_for_the_next_replay(chain: RecordedChain, bloom: DAO) -> None:
    chain.add_blocks(created(), voted(), concluded()).at(burn_height=dao_chain.CREATED_BTC, stacks_height=3_600_100)
    job = replay()
    assert job.status == Status.SUCCEEDED, job.last_error
    assert job.result["data"]["blocks"] == [3_600_000, 3_600_050]
    assert Proposal.objects.get().status == ProposalStatus.OPEN
    assert ChainState.objects.get().last_height == 3_600_100

    chain.at(burn_height=dao_chain.EXEC_START + 2, stacks_height=TIP)
    job = replay()
    assert job.result["data"]["blocks"] == [3_600_300]
    assert Proposal.objects.get().status == ProposalStatus.FAILED


def test_a_block_that_fails_to_apply_holds_the_state_and_the_cursors_until_it_is_applied(
    chain: RecordedChain, bloom: DAO
) -> None:
    """The creation's block needs the chain's clock (to schedule the conclusion), and the API
    fails to give it: nothing of that block or after it is applied, and the state says so."""
    chain.add_blocks(created(), voted()).at(burn_height=dao_chain.CREATED_BTC, stacks_height=TIP)
    ChainState.objects.create(network="mainnet", last_height=3_599_990)
    chain.failing = lambda request: 503 if request.path.endswith("/burn-blocks") else None
    job = replay()
    assert job.status == Status.RETRYING, job.last_error
    state = ChainState.objects.get()
    assert (state.last_height, state.held_at) == (3_599_990, 3_600_000)
    assert not Proposal.objects.exists()
    assert not Vote.objects.exists()
    assert not ContractCursor.objects.exists()

    chain.failing = lambda request: None
    make_due(job)
    job = run(job)
    assert job.status == Status.SUCCEEDED, job.last_error
    state = ChainState.objects.get()
    assert (state.last_height, state.held_at) == (TIP, None)
    assert (Proposal.objects.count(), Vote.objects.count()) == (1, 2)
