"""`dao_deployment` (one unconfirmed deployment at a time) and `agent_account_deploy` (no fallbacks)."""

from __future__ import annotations

import json
from typing import Any

from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import Job, Status
from tasks.models import DAO, AgentAccount
from tests.tasks.conftest import DEX, OWNER, TOKEN, WALLET, assert_waits, make_due, run

DEPLOYMENT = {
    "token_symbol": "NEW",
    "token_name": "New",
    "token_max_supply": 21_000_000,
    "token_decimals": 8,
    "origin_address": WALLET,
    "mission": "Build",
}
CONTRACTS = {"dao": f"{WALLET}.new-dao", "token": f"{WALLET}.new-token", "dex": f"{WALLET}.new-dex"}
BROADCAST = {"txid": "0xnew", "status": "broadcast", "contracts": CONTRACTS}


def test_deployment_records_the_dao_with_its_tx_id(tx_service: Any, httpserver: HTTPServer) -> None:
    tx_service("dao_deployment")
    httpserver.expect_request("/tx/contract-calls").respond_with_json(BROADCAST)
    job = run(enqueue("dao_deployment", DEPLOYMENT))
    assert job.status == Status.SUCCEEDED, job.last_error
    dao = DAO.objects.get(token_symbol="NEW")
    assert (dao.deployment_tx_id, dao.is_broadcast, dao.is_deployed) == ("0xnew", True, False)
    assert dao.token_contract == f"{WALLET}.new-token"
    request = httpserver.log[-1][0]
    assert json.loads(request.get_data())["arguments"]["token_max_supply"] == "21000000"
    assert request.headers["Idempotency-Key"] == f"dao_deployment:{job.pk}"


def test_a_retry_after_the_broadcast_was_saved_follows_it_without_deploying_again(
    tx_service: Any, httpserver: HTTPServer
) -> None:
    tx_service("dao_deployment")
    httpserver.expect_request("/tx/contract-calls").respond_with_json(BROADCAST)
    job = run(enqueue("dao_deployment", DEPLOYMENT))
    assert job.status == Status.SUCCEEDED, job.last_error
    # As if the attempt had died after saving the DAO, before its success (and the
    # tx_confirmation follow-up committed with it) was recorded; then retried.
    Job.objects.filter(job_type__name="tx_confirmation").delete()
    Job.objects.filter(pk=job.pk).update(status=Status.QUEUED, finished_at=None)
    job = run(job)
    assert job.status == Status.SUCCEEDED, job.last_error
    assert job.result["message"] == "already broadcast by this job"
    assert len(httpserver.log) == 1  # deployed once
    dao = DAO.objects.get(token_symbol="NEW")
    (follow,) = Job.objects.filter(job_type__name="tx_confirmation")
    assert follow.payload == {"tx_id": "0xnew", "kind": "dao_deployment", "object_id": dao.pk}


def test_deployment_waits_without_using_attempts_while_another_is_unconfirmed(
    tx_service: Any, httpserver: HTTPServer, make_dao: Any, configure: Any
) -> None:
    configure(
        "dao_deployment", tx_service_url=httpserver.url_for("/tx"), wait_seconds=45
    )  # operators may tune the wait
    other = make_dao("OLD", is_deployed=False, deployment_tx_id="0xold")
    httpserver.expect_oneshot_request("/tx/transactions/0xold").respond_with_json(
        {"txid": "0xold", "status": "pending"}
    )
    job = run(enqueue("dao_deployment", DEPLOYMENT))
    assert job.status == Status.SCHEDULED  # given back, not failed
    assert job.attempts == 0
    assert "rate limited: deployment of OLD DAO (OLD) (0xold) is not confirmed yet" in job.last_error
    assert_waits(job, 45)
    assert not DAO.objects.filter(token_symbol="NEW").exists()
    # Once the other deployment is confirmed, this one goes ahead.
    httpserver.expect_request("/tx/transactions/0xold").respond_with_json({"txid": "0xold", "status": "success"})
    httpserver.expect_request("/tx/contract-calls").respond_with_json(BROADCAST)
    make_due(job)
    job = run(job)
    assert job.status == Status.SUCCEEDED, job.last_error
    assert job.attempts == 1
    other.refresh_from_db()
    assert other.is_deployed


def test_deployment_refused_by_the_service_is_not_recorded(tx_service: Any, httpserver: HTTPServer) -> None:
    tx_service("dao_deployment")
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"status": "rejected", "reason": "no funds"})
    job = run(enqueue("dao_deployment", DEPLOYMENT))
    assert job.status == Status.DEAD
    assert "refused the deployment: no funds" in job.last_error
    assert not DAO.objects.exists()


def test_agent_account_is_recorded_once(tx_service: Any, httpserver: HTTPServer) -> None:
    tx_service("agent_account_deploy")
    receipt = {"txid": "0xacc", "status": "broadcast", "contract": f"{OWNER}.account"}
    httpserver.expect_request("/tx/contract-calls").respond_with_json(receipt)
    payload = {"owner_address": OWNER, "dao_token_contract": TOKEN, "dao_dex_contract": DEX}
    first = run(enqueue("agent_account_deploy", payload))
    second = run(enqueue("agent_account_deploy", payload))
    assert (first.status, second.status) == (Status.SUCCEEDED, Status.SUCCEEDED)
    account = AgentAccount.objects.get()
    assert (account.account_contract, account.tx_id, account.dao_dex_contract) == (f"{OWNER}.account", "0xacc", DEX)
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent == {"action": "deploy_agent_account", "arguments": payload}
    assert len(httpserver.log) == 1
    assert second.result["message"] == "already deployed"


def test_agent_account_without_a_configured_service_is_dead_not_defaulted(configure: Any) -> None:
    configure("agent_account_deploy")  # enabled, but no tx_service_url
    payload = {"owner_address": OWNER, "dao_token_contract": TOKEN, "dao_dex_contract": DEX}
    job = run(enqueue("agent_account_deploy", payload))
    assert job.status == Status.DEAD
    assert "set the tx_service_url setting" in job.last_error
    assert not AgentAccount.objects.exists()
