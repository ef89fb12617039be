"""Every job type against a real local HTTP server: success, 429 with Retry-After, a 4xx, a 5xx then success."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import DeadLetter, Job, Status
from tasks.models import DAO, Proposal, Vote
from tests.tasks.conftest import ACCOUNT, AGENT, CONTRACTS_DIR, OWNER, TOKEN, WALLET, assert_waits, make_due, run
from tests.tasks.oauth import DEFAULT_IDENTITY

EVALUATION = {"decision": "approve", "confidence": 0.8, "reasoning": "It serves the mission."}
CHAT_OK = {"choices": [{"message": {"role": "assistant", "content": json.dumps(EVALUATION)}}]}
RECEIPT = {"txid": "0xabc", "status": "broadcast", "contract_id": ACCOUNT}


@dataclass
class Case:
    """One job type: how to configure it, what to enqueue, which request it makes and a good answer."""

    name: str
    service: str  # tx, llm, social, discord, chain
    path: str
    ok: Any
    payload: Callable[[Any, Any], dict[str, Any]] = lambda dao, proposal: {}
    method: str = "POST"
    ok_status: int = 200
    setup: Callable[[Any, Any], None] = lambda dao, proposal: None
    extra: dict[str, Any] = field(default_factory=dict)  # other paths the job reads, answered OK
    # After a good answer: a deployment sends one contract, then waits for its confirmation.
    done: str = Status.SUCCEEDED


DEPLOYMENT = {
    "token_symbol": "NEWDAO",
    "token_name": "New DAO",
    "token_max_supply": 1_000_000,
    "origin_address": WALLET,
    "mission": "Build things",
}
STEP = {**DEPLOYMENT, "contract": "newdao-faktory"}

CASES = [
    Case("tweet", "social", "/x/tweets", {"data": {"id": "100"}}, lambda d, p: {"text": "gm", "dao_id": d.pk}),
    Case("discord", "discord", "/hook", "", lambda d, p: {"content": "hello"}, ok_status=204),
    # A step of a deployment workflow: the job that sends one contract.
    Case("dao_deployment", "tx", "/tx/contract-calls", RECEIPT, lambda d, p: STEP, done=Status.SCHEDULED),
    Case("dao_deployment_tweet", "llm", "/llm/chat/completions", CHAT_OK, lambda d, p: {"dao_id": d.pk}),
    Case(
        "dao_proposal_evaluation",
        "llm",
        "/llm/chat/completions",
        CHAT_OK,
        lambda d, p: {"proposal_id": p.pk, "wallet_address": ACCOUNT},
    ),
    Case(
        "dao_proposal_vote",
        "tx",
        "/tx/contract-calls",
        RECEIPT,
        lambda d, p: {"proposal_id": p.pk, "wallet_address": ACCOUNT},
        setup=lambda d, p: Vote.objects.create(proposal=p, wallet_address=ACCOUNT, approve=True, confidence=0.9),
    ),
    Case("dao_proposal_conclude", "tx", "/tx/contract-calls", RECEIPT, lambda d, p: {"proposal_id": p.pk}),
    Case(
        "agent_account_deploy",
        "tx",
        "/tx/contract-calls",
        RECEIPT,
        lambda d, p: {"owner_address": OWNER, "agent_address": AGENT, "dao_token_contract": TOKEN},
    ),
    Case(
        "dao_proposal_embedder",
        "llm",
        "/llm/embeddings",
        {"data": [{"index": 0, "embedding": [0.1, 0.2]}]},
        lambda d, p: {"proposal_ids": [p.pk]},
    ),
    Case(
        "chain_state_monitor",
        "chain",
        "/chain/extended/v1/status",
        {"chain_tip": {"block_height": 100, "block_hash": "0x64"}},
        method="GET",
    ),
    Case(
        "chain_block_replay",
        "chain",
        "/chain/extended/v1/status",
        {"chain_tip": {"block_height": 5, "block_hash": "0x05"}},
        lambda d, p: {"network": "mainnet"},
        method="GET",
        # The DAO's voting extension has printed nothing yet.
        extra={
            f"/chain/extended/v1/contract/{WALLET}.face-action-proposal-voting/events": {
                "limit": 50,
                "offset": 0,
                "results": [],
            }
        },
    ),
]


def settings_for(service: str, httpserver: HTTPServer) -> dict[str, Any]:
    return {
        "tx": {"tx_service_url": httpserver.url_for("/tx"), "tx_service_key": "k"},
        "llm": {"llm_base_url": httpserver.url_for("/llm"), "llm_api_key": "k"},
        "social": {"social_api_url": httpserver.url_for("/x"), **DEFAULT_IDENTITY},
        "discord": {"webhook_url": httpserver.url_for("/hook")},
        "chain": {"chain_api_url": httpserver.url_for("/chain")},
    }[service]


@pytest.fixture(params=CASES, ids=[case.name for case in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


@pytest.fixture
def enqueued(case: Case, httpserver: HTTPServer, configure: Any, make_proposal: Any) -> Job:
    # Three attempts for every type here (the monitor's own default is one: its next run is the retry).
    source = {"contracts_dir": CONTRACTS_DIR} if case.name in {"dao_deployment", "agent_account_deploy"} else {}
    configure(case.name, {"max_attempts": 3}, **settings_for(case.service, httpserver), **source)
    proposal: Proposal = make_proposal()
    dao: DAO = proposal.dao
    case.setup(dao, proposal)
    for path, body in case.extra.items():
        httpserver.expect_request(path).respond_with_json(body)
    return enqueue(case.name, case.payload(dao, proposal))


def answer_ok(httpserver: HTTPServer, case: Case) -> None:
    handler = httpserver.expect_request(case.path, method=case.method)
    if case.ok_status == 204:
        handler.respond_with_data("", 204)
    else:
        handler.respond_with_json(case.ok, case.ok_status)


def requests_to(httpserver: HTTPServer, case: Case) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == case.path)


def test_happy_path(case: Case, enqueued: Job, httpserver: HTTPServer) -> None:
    answer_ok(httpserver, case)
    job = run(enqueued)
    assert job.status == case.done, job.last_error
    assert requests_to(httpserver, case) == 1


def test_429_waits_for_retry_after(case: Case, enqueued: Job, httpserver: HTTPServer) -> None:
    httpserver.expect_request(case.path, method=case.method).respond_with_json(
        {"detail": "Too Many Requests"}, 429, {"Retry-After": "120"}
    )
    job = run(enqueued)
    if case.service == "chain":
        # The chain API's 429 is its rate limit (Hiro's per-key quota): a wait, no attempt spent.
        assert (job.status, job.attempts) == (Status.SCHEDULED, 0)
        assert "rate limiting us (429)" in job.last_error
    else:
        assert (job.status, job.attempts) == (Status.RETRYING, 1)
        assert "429: Too Many Requests" in job.last_error
    assert_waits(job, 120)


def test_4xx_is_dead_lettered_with_the_message(case: Case, enqueued: Job, httpserver: HTTPServer) -> None:
    httpserver.expect_request(case.path, method=case.method).respond_with_json({"message": "you cannot do that"}, 403)
    job = run(enqueued)
    assert job.status == Status.DEAD
    assert job.attempts == 1
    letter = DeadLetter.objects.get(job=job)
    assert letter.reason == "permanent_error"
    assert "(403): you cannot do that" in letter.error_message


def test_5xx_then_success(case: Case, enqueued: Job, httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(case.path, method=case.method).respond_with_data("overloaded", 503)
    answer_ok(httpserver, case)
    job = run(enqueued)
    assert job.status == Status.RETRYING
    assert "503: overloaded" in job.last_error
    make_due(job)
    job = run(job)
    assert job.status == case.done, job.last_error
    assert job.attempts == (2 if case.done == Status.SUCCEEDED else 1)  # waiting gives its attempt back
    assert requests_to(httpserver, case) == 2
