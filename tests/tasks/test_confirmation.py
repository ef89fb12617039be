"""`tx_confirmation`: a broadcast transaction followed to its final status (recorded API responses)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import DeadLetter, Job, Status
from tasks.models import DAO, DaoContract, Proposal, ProposalStatus, Vote
from tests.tasks.conftest import CONTRACTS_DIR, OWNER, WALLET, make_due, run
from tests.tasks.recorded import RecordedChain, load

DEPLOY_TX = "0x" + "8" * 64
CONCLUDE_TX = "0x" + "5" * 64
ABORTED_TX = "0x" + "a1" * 32


@pytest.fixture
def chain(configure: Any, httpserver: HTTPServer) -> RecordedChain:
    recorded = RecordedChain(httpserver).at(burn_height=870_170)
    configure("tx_confirmation", chain_api_url=recorded.url)
    return recorded


def confirmations() -> list[Job]:
    return list(Job.objects.filter(job_type__name="tx_confirmation"))


def test_a_deployment_is_followed_until_it_succeeds_then_its_launch_post_is_released(
    chain: RecordedChain, tx_service: Callable[[str], str], httpserver: HTTPServer, configure: Any, tmp_path: Path
) -> None:
    # A DAO whose generated set is one contract, so that its confirmation completes the deployment.
    (tmp_path / "aibtc-base-dao.clar").write_text((Path(CONTRACTS_DIR) / "aibtc-base-dao.clar").read_text())
    configure("dao_deployment", tx_service_url=httpserver.url_for("/tx"), contracts_dir=str(tmp_path))
    httpserver.expect_request("/tx/contract-calls").respond_with_json(
        {"txid": DEPLOY_TX, "status": "broadcast", "contract_id": f"{WALLET}.face-base-dao"}
    )
    plan = run(
        enqueue(
            "dao_deployment",
            {
                "token_symbol": "FACE",
                "token_name": "Face",
                "token_max_supply": 1000,
                "origin_address": WALLET,
                "mission": "Fund open source",
            },
        )
    )
    assert plan.status == Status.SUCCEEDED, plan.last_error  # the deployment's workflow is enqueued
    deployment = Job.objects.get(job_type__name="dao_deployment", payload__contract="face-base-dao")
    assert deployment.status == Status.SCHEDULED, deployment.last_error  # waits for the confirmation
    dao = DAO.objects.get()
    assert (dao.is_broadcast, dao.is_deployed, dao.dao_contract) == (True, False, f"{WALLET}.face-base-dao")
    contract = DaoContract.objects.get()
    (follow,) = confirmations()
    assert follow.payload == {"tx_id": DEPLOY_TX, "kind": "dao_contract", "object_id": contract.pk}
    assert follow.created_by == f"job:{deployment.pk}"
    # Not in the API yet (404), then in the mempool: waits, no attempt used, 15 s at first.
    follow = run(follow)
    assert (follow.status, follow.attempts) == (Status.SCHEDULED, 0)
    assert 14 < (follow.run_after - timezone.now()).total_seconds() <= 15
    chain.add(load("stacks_api/tx_dao_deployment_pending.json"))
    make_due(follow)
    follow = run(follow)
    assert (follow.status, follow.attempts) == (Status.SCHEDULED, 0)
    assert f"transaction {DEPLOY_TX} is pending" in follow.last_error
    chain.add(load("stacks_api/tx_dao_deployment_success.json"))
    make_due(follow)
    follow = run(follow)
    assert follow.status == Status.SUCCEEDED, follow.last_error
    dao.refresh_from_db()
    contract.refresh_from_db()
    assert (dao.is_deployed, contract.status, contract.tx_status) == (True, "confirmed", "success")
    # The step sees the confirmation, succeeds, and releases the launch post, its workflow's last step.
    make_due(deployment)
    assert run(deployment).status == Status.SUCCEEDED
    (launch,) = Job.objects.filter(job_type__name="dao_deployment_tweet")
    assert (launch.payload, launch.workflow_id, launch.status) == (
        {"dao_id": dao.pk},
        dao.deployment_workflow_id,
        "queued",
    )


def test_a_confirmed_conclusion_enqueues_its_posts_once_whoever_reports_it(
    chain: RecordedChain, configure: Any, make_proposal: Callable[..., Proposal]
) -> None:
    proposal = make_proposal(conclusion_tx_id=CONCLUDE_TX, status=ProposalStatus.CONCLUDED)
    chain.add(load("stacks_api/tx_conclusion_of_proposal_7_success.json"))
    follow = run(enqueue("tx_confirmation", {"tx_id": CONCLUDE_TX, "kind": "conclusion", "object_id": proposal.pk}))
    assert follow.status == Status.SUCCEEDED, follow.last_error
    proposal.refresh_from_db()
    assert (proposal.status, proposal.conclusion_tx_status) == (ProposalStatus.PASSED, "success")
    assert follow.result["data"]["concluded"] == [proposal.pk]
    # The block holding the same transaction arrives later: nothing is posted twice.
    configure("chain_block_replay", chain_api_url=chain.url)
    chain.add_recorded_block(load("stacks_api/block_150100_votes_and_concludes_proposal_7.json"))
    chain.at(burn_height=870_170, stacks_height=150_100)
    replay = run(enqueue("chain_block_replay"))
    assert replay.status == Status.SUCCEEDED, replay.last_error
    assert replay.result["data"]["blocks"] == [150_100]
    assert Job.objects.filter(job_type__name="discord").count() == 1
    assert Job.objects.filter(job_type__name="tweet").count() == 1


def test_an_aborted_vote_is_marked_failed_and_leaves_a_dead_letter(
    chain: RecordedChain, make_proposal: Callable[..., Proposal]
) -> None:
    vote = Vote.objects.create(
        proposal=make_proposal(), wallet_address=OWNER, approve=True, confidence=0.9, voted=True, tx_id=ABORTED_TX
    )
    chain.add(load("stacks_api/tx_vote_aborted_by_response.json"))
    follow = run(enqueue("tx_confirmation", {"tx_id": ABORTED_TX, "kind": "vote", "object_id": vote.pk}))
    assert follow.status == Status.DEAD
    vote.refresh_from_db()
    assert vote.tx_status == "abort_by_response"
    letter = DeadLetter.objects.get(job=follow)
    assert letter.reason == "permanent_error"
    assert letter.error_message == (
        f"transaction {ABORTED_TX} (vote {vote.pk}) failed on the chain: abort_by_response (err u5003)"
    )


def test_a_transaction_pending_too_long_is_given_up(chain: RecordedChain, make_dao: Callable[..., DAO]) -> None:
    dao = make_dao("FACE", is_deployed=False, deployment_tx_id=DEPLOY_TX)
    chain.add(load("stacks_api/tx_dao_deployment_pending.json"))
    follow = enqueue("tx_confirmation", {"tx_id": DEPLOY_TX, "kind": "dao_deployment", "object_id": dao.pk})
    Job.objects.filter(pk=follow.pk).update(created_at=timezone.now() - timedelta(days=3))
    follow = run(follow)
    assert follow.status == Status.DEAD
    assert "is still pending after 3 days" in follow.last_error
