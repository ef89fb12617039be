"""The chain's readers against the writer's contracts: one governance round run in a Clarity VM
(tests/tasks/simnet_chain.py) with the signer's own code, read back by each way this deployment
reads the chain, to the same records.

In the simnet a proposal is created through an agent account, one account votes for and one
against (signed by their agents, through the accounts), and the conclusion goes out with its
action; the votes against keep it under the threshold, so the proposal fails. The chain is then
read by `chain_block_replay` from the chain API's contract-events endpoint, and by the chainhook
endpoint as Chainhook delivers its blocks with `decode_clarity_values` false (`raw_value`) and
true (`value`): each reader, run in-process on its own fresh database, records the proposal,
both votes with their voting power and the conclusion, and enqueues the one Discord post a
rejection gets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from jobqueue import enqueue
from jobqueue.models import Job, JobType, Status
from tasks.aibtc.functions import conclude_arguments, vote_arguments
from tasks.models import Chainhook, Proposal, ProposalStatus, Vote
from tests.tasks.conftest import run
from tests.tasks.simnet_chain import SimnetChain, register_dao, running_chain

pytestmark = pytest.mark.timeout(120)

HOOK_SECRET = "Bearer readers-hook-secret-long-enough-to-pass"
MESSAGE = "Rename the token.\n\n--- Metadata ---\nTitle: A new name"
VOTING_DELAY = VOTING_PERIOD = 3  # signer/clarity/contracts/aibtc-action-proposal-voting.clar


@pytest.fixture(scope="module")
def governance_round(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimnetChain, dict[str, Any]]]:
    """The chain after the round, and what the test knows of it: the transactions it made."""
    with running_chain(tmp_path_factory.mktemp("simnet")) as chain:
        already = set(chain.transactions())
        created = chain.propose(MESSAGE)
        assert created["result"] == "(ok true)"
        chain.mine_burn_blocks(VOTING_DELAY)
        voting, action = chain.info["voting"], chain.info["action"]
        votes = {}
        for account, approve in zip(chain.info["accounts"], (True, False), strict=True):
            receipt = chain.perform("vote", vote_arguments(account["contract"], voting, 1, approve))
            votes[receipt["txid"]] = (account, approve)
        chain.mine_burn_blocks(VOTING_PERIOD + VOTING_DELAY)
        concluded = chain.perform("conclude", conclude_arguments(voting, 1, action))
        executed = chain.transactions()
        ours = [created["txid"], *votes, concluded["txid"]]
        # (ok false): concluded, and not passed.
        assert [executed[tx]["result"] for tx in ours] == ["(ok true)"] * 3 + ["(ok false)"]
        heights = sorted({tx["height"] for txid, tx in executed.items() if txid not in already})
        yield chain, {"created": created["txid"], "votes": votes, "concluded": concluded["txid"], "heights": heights}


def records(chain: SimnetChain, configure: Callable[..., JobType]) -> None:
    api = {"chain_api_url": chain.url}
    configure("chain_block_replay", **api)
    configure("chainhook_block", **api)
    register_dao(chain)


def read_by_replay(chain: SimnetChain, heights: list[int]) -> list[Job]:
    """One replay: every print of the known contracts (the voting extension, the accounts) from
    the API's contract-events endpoint, the set-up's included."""
    job = run(enqueue("chain_block_replay", {"network": "mainnet"}))
    assert set(heights) <= set(job.result["data"]["blocks"]), job.result
    return [job]


def read_by_chainhook(chain: SimnetChain, heights: list[int], *, decode: bool) -> list[Job]:
    Chainhook.objects.create(name="dao-events", secret=HOOK_SECRET)
    hook = APIClient()
    hook.credentials(HTTP_AUTHORIZATION=HOOK_SECRET)
    deliveries = chain.deliveries(decode=decode, from_height=heights[0])
    # Chainhook sends the blocks whose transactions match its predicate: all of the round's.
    assert [d["apply"][0]["block_identifier"]["index"] for d in deliveries] == heights
    jobs = []
    for body in deliveries:
        events = body["apply"][0]["transactions"][0]["metadata"]["receipt"]["events"]
        prints = [e["data"] for e in events if e["type"] == "SmartContractEvent"]
        assert prints
        assert all(("value" in p, "raw_value" in p) == (decode, not decode) for p in prints)
        response = hook.post("/api/chainhooks/dao-events/", body, format="json")
        assert response.status_code == 202, response.content
        jobs.append(run(Job.objects.get(pk=response.json()["jobs"][0])))
    return jobs


@pytest.mark.parametrize("reader", ["replay", "chainhook_raw_value", "chainhook_decoded_value"])
def test_each_reader_records_the_round_the_vm_ran(
    governance_round: tuple[SimnetChain, dict[str, Any]], configure: Callable[..., JobType], reader: str
) -> None:
    chain, made = governance_round
    records(chain, configure)
    heights = made["heights"]
    if reader == "replay":
        jobs = read_by_replay(chain, heights)
    else:
        jobs = read_by_chainhook(chain, heights, decode=reader == "chainhook_decoded_value")
    assert [job.status for job in jobs] == [Status.SUCCEEDED] * len(jobs), [job.last_error for job in jobs]
    assert all(job.result["counters"].get("not_understood", 0) == 0 for job in jobs)

    proposal = Proposal.objects.get()
    assert (proposal.onchain_id, proposal.title, proposal.content) == (1, "A new name", "Rename the token.")
    assert (proposal.action_contract, proposal.voting_contract) == (chain.info["action"], chain.info["voting"])
    assert proposal.created_tx_id == made["created"]
    assert proposal.creator == chain.info["accounts"][0]["contract"]
    assert proposal.starts_at_block == proposal.created_at_block + VOTING_DELAY
    assert proposal.ends_at_block == proposal.starts_at_block + VOTING_PERIOD
    votes = {vote.tx_id: vote for vote in Vote.objects.all()}
    assert set(votes) == set(made["votes"])
    for tx_id, (account, approve) in made["votes"].items():
        vote = votes[tx_id]
        assert (vote.wallet_address, vote.approve, vote.amount) == (
            account["contract"],
            approve,
            int(account["balance"]),
        )
    balances = [int(a["balance"]) for a in chain.info["accounts"]]
    assert (proposal.votes_for, proposal.votes_against) == (balances[0], balances[1])
    assert (proposal.status, proposal.passed, proposal.met_threshold) == (ProposalStatus.FAILED, False, False)
    assert proposal.conclusion_tx_id == made["concluded"]
    discord = Job.objects.filter(job_type__name="discord")
    assert [job.payload["content"].splitlines()[0] for job in discord] == ["🛑 Rejected: proposal #1 of FACES DAO"]
    assert not Job.objects.filter(job_type__name="tweet").exists()  # X hears of approved proposals only
