"""Evaluation, vote and conclusion of proposals, in-process."""

from __future__ import annotations

import json
from typing import Any

from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import DeadLetter, Job, Status
from tasks.models import Proposal, ProposalStatus, Vote
from tests.tasks.conftest import ACCOUNT, ACTION, VOTING, WALLET, make_due, run


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
    job = run(enqueue("dao_proposal_evaluation", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
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
    assert follow_up.payload == {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}
    request = json.loads(httpserver.log[-1][0].get_data())
    assert request["response_format"] == {"type": "json_object"}


def test_vote_with_nothing_to_vote_is_done(tx_service: Any, make_proposal: Any, httpserver: HTTPServer) -> None:
    tx_service("dao_proposal_vote")
    proposal = make_proposal()
    Vote.objects.create(proposal=proposal, wallet_address=ACCOUNT, approve=True, confidence=1, voted=True)
    job = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
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
        proposal=proposal, wallet_address=ACCOUNT, approve=True, confidence=1, voted=True, tx_id="0xlost"
    )
    job = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert httpserver.log == []  # never voted twice
    (follow,) = Job.objects.filter(job_type__name="tx_confirmation")
    assert follow.payload == {"tx_id": "0xlost", "kind": "vote", "object_id": vote.pk}
    # Once the chain's final status is known, there is nothing left to follow.
    Vote.objects.filter(pk=vote.pk).update(tx_status="success")
    follow.delete()
    run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
    assert not Job.objects.filter(job_type__name="tx_confirmation").exists()


def test_vote_records_tx_ids_and_sends_the_decision(
    tx_service: Any, make_proposal: Any, httpserver: HTTPServer
) -> None:
    tx_service("dao_proposal_vote")
    proposal = make_proposal(onchain_id=12)
    vote = Vote.objects.create(proposal=proposal, wallet_address=ACCOUNT, approve=False, confidence=0.6)
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"txid": "0xv", "status": "broadcast"})
    job = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
    assert job.status == Status.SUCCEEDED, job.last_error
    vote.refresh_from_db()
    assert (vote.voted, vote.tx_id) == (True, "0xv")
    (follow,) = Job.objects.filter(job_type__name="tx_confirmation")
    assert follow.payload == {"tx_id": "0xv", "kind": "vote", "object_id": vote.pk}
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["action"] == "vote"
    # Through the agent account, which the service signs with the account's agent key.
    assert sent["arguments"] == {
        "account_contract": ACCOUNT,
        "voting_contract": proposal.voting_contract,
        "proposal_id": 12,
        "vote": False,
    }


def test_a_vote_for_an_account_whose_agent_key_the_service_lacks_is_a_dead_letter_saying_so(
    tx_service: Any, make_proposal: Any, httpserver: HTTPServer
) -> None:
    tx_service("dao_proposal_vote")
    proposal = make_proposal()
    vote = Vote.objects.create(proposal=proposal, wallet_address=ACCOUNT, approve=True, confidence=0.9)
    detail = f"this service holds no agent key for {ACCOUNT}; add the agent's key to SIGNER_AGENT_KEYS"
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"detail": detail}, 403)
    job = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
    assert job.status == Status.DEAD
    assert job.attempts == 1
    assert "SIGNER_AGENT_KEYS" in DeadLetter.objects.get(job=job).error_message
    vote.refresh_from_db()
    assert not vote.voted


def test_a_wallet_that_is_not_an_agent_account_cannot_vote(tx_service: Any, make_proposal: Any) -> None:
    tx_service("dao_proposal_vote")
    proposal = make_proposal()
    Vote.objects.create(proposal=proposal, wallet_address=WALLET, approve=True, confidence=0.9)
    job = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": WALLET}))
    assert job.status == Status.DEAD
    assert "votes go through one; deploy an agent account" in job.last_error


def test_an_evaluation_below_the_confidence_threshold_abstains_and_says_why(
    configure: Any, httpserver: HTTPServer, make_proposal: Any
) -> None:
    configure("dao_proposal_evaluation", llm_base_url=httpserver.url_for("/llm"))  # threshold 0.7 by default
    unsure = {"decision": "approve", "confidence": 0.55, "reasoning": "Unclear budget."}
    httpserver.expect_request("/llm/chat/completions").respond_with_json(chat(json.dumps(unsure)))
    proposal = make_proposal()
    job = run(enqueue("dao_proposal_evaluation", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert job.result["message"] == "abstained: confidence 0.55 is below the threshold 0.7"
    vote = Vote.objects.get()
    assert (vote.voted, vote.abstain_reason) == (False, "confidence 0.55 is below the threshold 0.7")
    assert not Job.objects.filter(job_type__name="dao_proposal_vote").exists()
    # A vote job for it anyway sends nothing.
    configure("dao_proposal_vote", tx_service_url=httpserver.url_for("/tx"))
    voted = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
    assert voted.result["message"] == "nothing to vote"


def test_conclusion_sends_the_action_of_the_creation_event(
    tx_service: Any, make_proposal: Any, httpserver: HTTPServer
) -> None:
    tx_service("dao_proposal_conclude")
    proposal = make_proposal(onchain_id=3)
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"txid": "0xc", "status": "broadcast"})
    job = run(enqueue("dao_proposal_conclude", {"proposal_id": proposal.pk}))
    assert job.status == Status.SUCCEEDED, job.last_error
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent == {
        "action": "conclude",
        "arguments": {"voting_contract": VOTING, "proposal_id": 3, "action_contract": ACTION},
    }


def test_conclusion_without_its_action_is_dead_before_anything_is_sent(
    tx_service: Any, make_proposal: Any, httpserver: HTTPServer
) -> None:
    tx_service("dao_proposal_conclude")
    proposal = make_proposal(action_contract="")
    job = run(enqueue("dao_proposal_conclude", {"proposal_id": proposal.pk}))
    assert job.status == Status.DEAD
    assert "has no action contract" in job.last_error
    assert httpserver.log == []


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
