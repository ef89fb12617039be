"""Evaluation, vote and conclusion of proposals, in-process."""

from __future__ import annotations

import json
from typing import Any

from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import Job, Status
from tasks.models import Proposal, ProposalStatus, Vote
from tests.tasks.conftest import WALLET, make_due, run


def chat(content: str) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": content}}]}


def test_malformed_evaluation_is_retried_then_stored_and_the_vote_enqueued(
    configure: Any, httpserver: HTTPServer, make_proposal: Any
) -> None:
    configure("dao_proposal_evaluation", llm_base_url=httpserver.url_for("/llm"))
    httpserver.expect_oneshot_request("/llm/chat/completions").respond_with_json(chat('{"verdict": "yes"}'))
    good = {"decision": "reject", "confidence": 0.7, "reasoning": "Too expensive."}
    httpserver.expect_request("/llm/chat/completions").respond_with_json(chat(f"```json\n{json.dumps(good)}\n```"))
    proposal = make_proposal()
    job = run(enqueue("dao_proposal_evaluation", {"proposal_id": proposal.pk, "wallet_address": WALLET}))
    assert job.status == Status.RETRYING
    assert "not a valid evaluation" in job.last_error
    assert not Vote.objects.exists()
    make_due(job)
    job = run(job)
    assert job.status == Status.SUCCEEDED, job.last_error
    vote = Vote.objects.get()
    assert (vote.approve, vote.confidence, vote.reasoning, vote.voted) == (False, 0.7, "Too expensive.", False)
    proposal.refresh_from_db()
    assert proposal.evaluated
    assert proposal.evaluation_summary == "Too expensive."
    follow_up = Job.objects.get(job_type__name="dao_proposal_vote")
    assert follow_up.payload == {"proposal_id": proposal.pk, "wallet_address": WALLET}
    request = json.loads(httpserver.log[-1][0].get_data())
    assert request["response_format"] == {"type": "json_object"}


def test_vote_with_nothing_to_vote_is_done(tx_service: Any, make_proposal: Any, httpserver: HTTPServer) -> None:
    tx_service("dao_proposal_vote")
    proposal = make_proposal()
    Vote.objects.create(proposal=proposal, wallet_address=WALLET, approve=True, confidence=1, voted=True)
    job = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": WALLET}))
    assert job.status == Status.SUCCEEDED
    assert job.result["message"] == "nothing to vote"
    assert job.result["counters"] == {"voted": 0}
    assert httpserver.log == []


def test_a_vote_broadcast_by_an_attempt_that_died_is_followed_not_sent_again(
    tx_service: Any, make_proposal: Any, httpserver: HTTPServer
) -> None:
    # An earlier attempt saved the broadcast (voted, tx id) and died before its success, and
    # with it the tx_confirmation follow-up, was recorded.
    tx_service("dao_proposal_vote")
    proposal = make_proposal()
    vote = Vote.objects.create(
        proposal=proposal, wallet_address=WALLET, approve=True, confidence=1, voted=True, tx_id="0xlost"
    )
    job = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": WALLET}))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert httpserver.log == []  # never voted twice
    (follow,) = Job.objects.filter(job_type__name="tx_confirmation")
    assert follow.payload == {"tx_id": "0xlost", "kind": "vote", "object_id": vote.pk}
    # Once the chain's final status is known, there is nothing left to follow.
    Vote.objects.filter(pk=vote.pk).update(tx_status="success")
    follow.delete()
    run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": WALLET}))
    assert not Job.objects.filter(job_type__name="tx_confirmation").exists()


def test_vote_records_tx_ids_and_sends_the_decision(
    tx_service: Any, make_proposal: Any, httpserver: HTTPServer
) -> None:
    tx_service("dao_proposal_vote")
    proposal = make_proposal(onchain_id=12)
    vote = Vote.objects.create(proposal=proposal, wallet_address=WALLET, approve=False, confidence=0.6)
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"txid": "0xv", "status": "broadcast"})
    job = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": WALLET}))
    assert job.status == Status.SUCCEEDED, job.last_error
    vote.refresh_from_db()
    assert (vote.voted, vote.tx_id) == (True, "0xv")
    (follow,) = Job.objects.filter(job_type__name="tx_confirmation")
    assert follow.payload == {"tx_id": "0xv", "kind": "vote", "object_id": vote.pk}
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["action"] == "vote"
    assert sent["arguments"] == {
        "dao_contract": proposal.dao.dao_contract,
        "proposal_id": 12,
        "approve": False,
        "voter": WALLET,
    }


def test_conclude_succeeds_only_once_broadcast(tx_service: Any, make_proposal: Any, httpserver: HTTPServer) -> None:
    tx_service("dao_proposal_conclude")
    proposal = make_proposal()
    httpserver.expect_oneshot_request("/tx/contract-calls").respond_with_json({"txid": "0xc", "status": "queued"})
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"txid": "0xc", "status": "broadcast"})
    job = run(enqueue("dao_proposal_conclude", {"proposal_id": proposal.pk}))
    assert job.status == Status.RETRYING
    assert "is queued, not broadcast yet" in job.last_error
    assert Proposal.objects.get(pk=proposal.pk).conclusion_tx_id == ""
    make_due(job)
    job = run(job)
    assert job.status == Status.SUCCEEDED
    proposal.refresh_from_db()
    assert (proposal.conclusion_tx_id, proposal.status) == ("0xc", ProposalStatus.CONCLUDED)


def test_conclude_failed_transaction_is_dead_and_not_recorded(
    tx_service: Any, make_proposal: Any, httpserver: HTTPServer
) -> None:
    tx_service("dao_proposal_conclude")
    proposal = make_proposal()
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"status": "failed", "reason": "too early"})
    job = run(enqueue("dao_proposal_conclude", {"proposal_id": proposal.pk}))
    assert job.status == Status.DEAD
    assert "refused the conclusion: too early" in job.last_error
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.OPEN
