"""The evaluation -> vote chain end to end through a real qcluster and a local HTTP server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import Job, JobType, Status
from jobqueue.services import sync_job_types, update_job_type
from tasks.models import DAO, Proposal, Vote
from tests.conftest import wait_for
from tests.tasks.conftest import ACCOUNT, WALLET

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_evaluation_then_vote_through_a_real_cluster(start_cluster: Any, httpserver: HTTPServer) -> None:
    sync_job_types()
    llm = {"llm_base_url": httpserver.url_for("/llm"), "llm_api_key": "llm-key", "chat_model": "judge"}
    tx = {"tx_service_url": httpserver.url_for("/tx"), "tx_service_key": "tx-key"}
    update_job_type(JobType.objects.get(name="dao_proposal_evaluation"), {"enabled": True, "settings": llm})
    update_job_type(JobType.objects.get(name="dao_proposal_vote"), {"enabled": True, "settings": tx})
    answer = {"decision": "approve", "confidence": 0.9, "reasoning": "Good for the mission."}
    httpserver.expect_request("/llm/chat/completions").respond_with_json(
        {"choices": [{"message": {"content": json.dumps(answer)}}]}
    )
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"txid": "0xvote", "status": "broadcast"})
    dao = DAO.objects.create(
        name="Face",
        mission="Fund open source",
        token_symbol="FACE",
        token_name="Face",
        token_max_supply=1000,
        origin_address=WALLET,
        dao_contract=f"{WALLET}.face-dao",
        is_broadcast=True,
        is_deployed=True,
    )
    proposal = Proposal.objects.create(dao=dao, title="Docs", content="Pay writers", onchain_id=3)
    evaluation = enqueue("dao_proposal_evaluation", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT})

    start_cluster(workers=2)
    vote = wait_for(lambda: Vote.objects.filter(voted=True).first(), timeout=60, message="the vote was never cast")

    assert (vote.approve, vote.tx_id, vote.reasoning) == (True, "0xvote", "Good for the mission.")
    evaluation.refresh_from_db()
    assert evaluation.status == Status.SUCCEEDED
    voting = wait_for(lambda: Job.objects.filter(job_type__name="dao_proposal_vote", status=Status.SUCCEEDED).first())
    assert voting.created_by == f"job:{evaluation.pk}"
    paths = [request.path for request, _ in httpserver.log]
    assert paths == ["/llm/chat/completions", "/tx/contract-calls"]
    sent = json.loads(httpserver.log[1][0].get_data())
    assert sent["arguments"] == {
        "account_contract": ACCOUNT,
        "voting_contract": f"{WALLET}.face-action-proposal-voting",
        "proposal_id": 3,
        "vote": True,
    }
    assert httpserver.log[1][0].headers["Idempotency-Key"] == f"vote:{vote.pk}"
