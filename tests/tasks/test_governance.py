"""Governance timing: votes wait for voting to open and are skipped once it closed; conclusions wait
for the end of voting plus the execution delay. Heights are burn-block heights from the chain API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import Job, Status
from tasks.governance import Clock
from tasks.models import Proposal, Vote
from tests.tasks.conftest import ACCOUNT, make_due, run
from tests.tasks.recorded import RecordedChain

HEIGHTS = {"starts_at_block": 870_012, "ends_at_block": 870_156, "executes_at_block": 870_168}


@pytest.fixture
def chain(httpserver: HTTPServer) -> RecordedChain:
    return RecordedChain(httpserver)


@pytest.fixture
def proposal(make_proposal: Callable[..., Proposal]) -> Proposal:
    return make_proposal(**HEIGHTS)


def settings_for(chain: RecordedChain, httpserver: HTTPServer) -> dict[str, Any]:
    return {
        "chain_api_url": chain.url,
        "tx_service_url": httpserver.url_for("/tx"),
        "tx_service_key": "k",
        "max_wait_seconds": 86_400,
    }


def seconds_until(job: Job) -> float:
    return (job.run_after - timezone.now()).total_seconds()


def test_the_clock_estimates_from_the_current_height() -> None:
    now = timezone.now()
    clock = Clock(burn_height=100, seconds_per_block=600)
    assert (clock.when(110, now) - now).total_seconds() == 6000
    assert clock.when(90, now) == now  # already reached
    assert Clock(None, 600).when(110, now) == now  # unknown height: now, and the job checks again


def test_a_vote_waits_for_voting_to_open_without_spending_an_attempt(
    configure: Any, chain: RecordedChain, httpserver: HTTPServer, proposal: Proposal
) -> None:
    configure("dao_proposal_vote", **settings_for(chain, httpserver))
    Vote.objects.create(proposal=proposal, wallet_address=ACCOUNT, approve=True, confidence=0.9)
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"txid": "0xv", "status": "broadcast"})
    chain.at(burn_height=870_002, seconds_per_block=590)
    job = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
    assert job.status == Status.SCHEDULED
    assert job.attempts == 0  # the attempt was given back
    assert 10 * 590 - 5 < seconds_until(job) <= 10 * 590
    assert "voting opens at burn block 870012, the chain is at 870002" in job.last_error
    assert not [r for r, _ in httpserver.log if r.path == "/tx/contract-calls"]
    chain.at(burn_height=870_012)
    make_due(job)
    job = run(job)
    assert job.status == Status.SUCCEEDED, job.last_error
    assert Vote.objects.get().voted


def test_a_vote_after_voting_closed_is_skipped_with_the_reason(
    configure: Any, chain: RecordedChain, httpserver: HTTPServer, proposal: Proposal
) -> None:
    configure("dao_proposal_vote", **settings_for(chain, httpserver))
    Vote.objects.create(proposal=proposal, wallet_address=ACCOUNT, approve=True, confidence=0.9)
    chain.at(burn_height=870_156)
    job = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
    assert job.status == Status.SKIPPED
    assert job.result["skipped"] == "too late to vote: voting closed at burn block 870156, the chain is at 870156"
    assert not Vote.objects.get().voted


def test_a_long_wait_is_checked_again_within_max_wait_seconds(
    configure: Any, chain: RecordedChain, httpserver: HTTPServer, proposal: Proposal
) -> None:
    configure("dao_proposal_conclude", **{**settings_for(chain, httpserver), "max_wait_seconds": 1800})
    chain.at(burn_height=870_012)
    job = run(enqueue("dao_proposal_conclude", {"proposal_id": proposal.pk}))
    assert job.status == Status.SCHEDULED
    assert 1795 < seconds_until(job) <= 1800  # 156 blocks away, but the chain is checked every 30 minutes
    assert "can be concluded at burn block 870168" in job.last_error


def test_a_conclusion_waits_for_the_execution_delay_then_goes_out(
    configure: Any, chain: RecordedChain, httpserver: HTTPServer, proposal: Proposal
) -> None:
    configure("dao_proposal_conclude", **settings_for(chain, httpserver))
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"txid": "0xc", "status": "broadcast"})
    chain.at(burn_height=870_160)  # voting ended at 870156, the delay runs to 870168
    job = run(enqueue("dao_proposal_conclude", {"proposal_id": proposal.pk}))
    assert (job.status, job.attempts) == (Status.SCHEDULED, 0)
    assert 8 * 600 - 5 < seconds_until(job) <= 8 * 600
    chain.at(burn_height=870_168)
    make_due(job)
    assert run(job).status == Status.SUCCEEDED


def test_the_evaluation_schedules_the_vote_for_when_voting_opens(
    configure: Any, chain: RecordedChain, httpserver: HTTPServer, proposal: Proposal
) -> None:
    configure("dao_proposal_evaluation", llm_base_url=httpserver.url_for("/llm"), chain_api_url=chain.url)
    answer = {"decision": "approve", "confidence": 0.8, "reasoning": "Good."}
    httpserver.expect_request("/llm/chat/completions").respond_with_json(
        {"choices": [{"message": {"content": json.dumps(answer)}}]}
    )
    chain.at(burn_height=870_000)
    job = run(enqueue("dao_proposal_evaluation", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
    assert job.status == Status.SUCCEEDED, job.last_error
    vote = Job.objects.get(job_type__name="dao_proposal_vote")
    assert 12 * 600 - 10 < seconds_until(vote) <= 12 * 600


def test_a_vote_for_a_proposal_with_heights_needs_the_chain_api(
    configure: Any, httpserver: HTTPServer, proposal: Proposal
) -> None:
    configure("dao_proposal_vote", tx_service_url=httpserver.url_for("/tx"))
    Vote.objects.create(proposal=proposal, wallet_address=ACCOUNT, approve=True, confidence=0.9)
    job = run(enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}))
    assert job.status == Status.DEAD
    assert "set the chain_api_url setting" in job.last_error
