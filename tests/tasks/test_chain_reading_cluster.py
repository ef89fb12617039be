"""A real cluster fed Hiro-shaped deliveries over HTTP records a proposal's life; redelivery and replay change nothing.

A live server takes `POST /api/chainhooks/<name>/` over HTTP (the creation in decoded mode, the
votes and the conclusion as `raw_value`), a qcluster subprocess applies the blocks, and then the
same blocks are delivered again and replayed from a Stacks API double serving them (the
contract-events list of the voting extension and the agent account, and the transactions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import ACTIVE, Job, JobType, Status
from jobqueue.services import sync_job_types, update_job_type
from tasks.models import AgentAccount, Chainhook, Proposal, ProposalStatus, Vote
from tests.conftest import wait_for
from tests.tasks import dao_chain
from tests.tasks.recorded import RecordedChain

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

SECRET = "Bearer cluster-hook-secret-long-enough-to-pass"


def snapshot() -> Any:
    return (
        list(Proposal.objects.order_by("pk").values()),
        list(Vote.objects.order_by("pk").values()),
        sorted(Job.objects.exclude(job_type__name__in=["chainhook_block", "chain_block_replay"]).values_list("pk")),
    )


def test_a_cluster_records_a_proposal_its_votes_and_conclusion_from_deliveries_and_replays_idempotently(
    start_cluster: Callable[..., Any], live_server: Any, httpserver: HTTPServer
) -> None:
    created = dao_chain.proposal_created_through_agent_account(decoded=False)
    voted = dao_chain.two_votes_through_agent_accounts(decoded=False)
    concluded = dao_chain.conclusion_that_failed_quorum(decoded=False)
    chain = RecordedChain(httpserver).at(burn_height=dao_chain.CREATED_BTC, stacks_height=3_600_500)
    chain.add_blocks(created, voted, concluded)

    sync_job_types()
    for name, settings in (
        ("chainhook_block", {"seconds_per_burn_block": 600}),
        ("chain_block_replay", {"chain_api_url": chain.url}),
    ):
        update_job_type(JobType.objects.get(name=name), {"enabled": True, "settings": settings})
    dao_chain.bloom_dao()
    AgentAccount.objects.create(
        owner_address=dao_chain.OWNERS[0],
        dao_token_contract=dao_chain.TOKEN,
        dao_dex_contract=f"{dao_chain.DEPLOYER}.bloom-faktory-dex",
        account_contract=dao_chain.ACCOUNTS[0],
        tx_id="0xacc",
    )
    Chainhook.objects.create(name="bloom", secret=SECRET, network="testnet")
    start_cluster(workers=2)

    def post(body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{live_server.url}/api/chainhooks/bloom/", json=body, headers={"Authorization": SECRET}, timeout=30
        )
        assert response.status_code == 202, response.text
        return dict(response.json())

    first = post(dao_chain.deliver(dao_chain.proposal_created_through_agent_account(decoded=True)))
    second = post(dao_chain.deliver(voted, concluded))
    assert (first["enqueued"], second["enqueued"]) == (1, 2)
    blocks = Job.objects.filter(job_type__name="chainhook_block")
    # A job's outcome is written after its work commits (with the next group commit): wait for both.
    wait_for(
        lambda: (
            Proposal.objects.filter(status=ProposalStatus.FAILED).exists()
            and Vote.objects.count() == 2
            and not blocks.filter(status__in=ACTIVE).exists()
        ),
        timeout=90,
        message="the deliveries were not applied",
    )
    proposal = Proposal.objects.get()
    assert (proposal.title, proposal.action_contract) == ("Translate the docs", dao_chain.ACTION)
    assert proposal.content.startswith("Fund a month of translation work")
    assert (proposal.starts_at_block, proposal.ends_at_block, proposal.executes_at_block, proposal.exec_end_block) == (
        dao_chain.VOTE_START,
        dao_chain.VOTE_END,
        dao_chain.EXEC_START,
        dao_chain.EXEC_END,
    )
    assert (proposal.met_quorum, proposal.met_threshold, proposal.passed) == (False, True, False)
    assert sorted(Vote.objects.values_list("wallet_address", "amount")) == sorted(
        zip(dao_chain.ACCOUNTS, dao_chain.POWERS, strict=True)
    )
    assert set(blocks.values_list("status", flat=True)) == {Status.SUCCEEDED}
    assert not any((job.result or {}).get("data", {}).get("not_understood") for job in blocks)
    before = snapshot()

    # The same blocks delivered again: nothing enqueued. Replayed from the Stacks API: nothing changes.
    again = post(dao_chain.deliver(voted, concluded))
    assert (again["enqueued"], again["duplicates"]) == (0, 2)
    replay = enqueue("chain_block_replay", {"network": "testnet"})
    wait_for(
        lambda: Job.objects.filter(pk=replay.pk, status=Status.SUCCEEDED).exists(),
        timeout=60,
        message="the replay did not succeed",
    )
    result = Job.objects.get(pk=replay.pk).result
    # The voting extension's and the account's prints, every one read and already applied.
    assert result["data"]["blocks"] == [3_600_000, 3_600_050, 3_600_300], result
    assert result["message"].endswith("event(s) of ours, all already applied: 0 changes"), result
    # Each of the four transactions (1 creation, 2 votes, 1 conclusion) was read once for its block.
    transactions = [r for r in chain.requests() if r.startswith("/extended/v1/tx/0x")]
    assert len(transactions) == len(set(transactions)) == 4
    assert snapshot() == before
