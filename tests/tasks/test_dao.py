"""`dao_deployment` (a DAO's generated contracts as one workflow: a step per contract, one
`smart_contract` transaction each, in dependency order, each confirmed before the next, then the
launch post; a failed step re-run lets the rest go on) and `agent_account_deploy`."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.db import transaction
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from jobqueue import enqueue
from jobqueue.models import Dependency, Job, Status
from jobqueue.services import rerun
from tasks.aibtc import naming
from tasks.chaindata import ChainTx
from tasks.governance import Clock
from tasks.models import DAO, AgentAccount, DaoContract
from tasks.pipeline import apply_transactions
from tests.tasks.conftest import AGENT, CONTRACTS_DIR, DEPLOYMENT, OWNER, TOKEN, WALLET, make_due, run

# The templates in signer/clarity/contracts, deployed as NEW's contracts, in order.
ORDER = ["new-faktory", "new-base-dao", "new-treasury", "new-action-proposal-voting", "new-action-send-message"]


@pytest.fixture
def service(configure: Any, httpserver: HTTPServer) -> list[dict[str, Any]]:
    """A transaction service that broadcasts every deployment; the requests it got."""
    configure("dao_deployment", tx_service_url=httpserver.url_for("/tx"), contracts_dir=CONTRACTS_DIR, wait_seconds=30)
    sent: list[dict[str, Any]] = []

    def deploy(request: Request) -> Response:
        body = json.loads(request.get_data())
        sent.append({**body, "key": request.headers["Idempotency-Key"]})
        name = body["arguments"]["contract_name"]
        receipt = {"txid": f"0x{len(sent):064x}", "status": "broadcast", "contract_id": f"{WALLET}.{name}"}
        return Response(json.dumps(receipt), 201, content_type="application/json")

    httpserver.expect_request("/tx/contract-calls").respond_with_handler(deploy)
    return sent


def chain_says(status: str, contract: DaoContract) -> None:
    """The chain's final status of a contract's transaction, applied as tx_confirmation applies it."""
    contract.refresh_from_db()
    tx = ChainTx(tx_id=contract.tx_id, status=status, kind="smart_contract", contract_id=contract.contract_id)
    with transaction.atomic():
        apply_transactions([tx], clock=lambda: Clock(0, 600.0), created_by="test")


def steps(workflow_id: str) -> dict[str, Job]:
    """The workflow's jobs by step: each contract's name, and "launch post"."""
    jobs = Job.objects.filter(workflow_id=workflow_id).select_related("job_type")
    return {job.payload.get("contract") or "launch post": job for job in jobs}


def test_the_deployment_is_a_workflow_of_its_contracts_in_order_then_the_launch_post(
    service: list[dict[str, Any]],
) -> None:
    plan = run(enqueue("dao_deployment", DEPLOYMENT))
    assert plan.status == Status.SUCCEEDED, plan.last_error
    flow = plan.result["data"]["workflow_id"]
    assert plan.result["message"] == f"deploying 5 of 5 contracts in workflow {flow}"
    assert DAO.objects.get(token_symbol="NEW").deployment_workflow_id == uuid.UUID(flow)
    graph = steps(flow)
    assert set(graph) == {*ORDER, "launch post"}
    # Each step waits for the contract before it; the post for the last.
    for before, after in zip([*ORDER], [*ORDER[1:], "launch post"], strict=True):
        waits_for = set(Dependency.objects.filter(job_id=graph[after].pk).values_list("on_id", flat=True))
        assert waits_for == {graph[before].pk}, after
    assert graph["launch post"].job_type.name == "dao_deployment_tweet"
    for i, name in enumerate(ORDER):
        step = Job.objects.get(pk=graph[name].pk)
        assert step.status == Status.SCHEDULED, step.last_error  # broadcast, waiting, no attempt spent
        assert step.attempts == 0
        assert [s["arguments"]["contract_name"] for s in service] == ORDER[: i + 1]
        later = [Job.objects.get(pk=graph[n].pk).status for n in [*ORDER[i + 1 :], "launch post"]]
        assert set(later) == {Status.BLOCKED}
        contract = DaoContract.objects.get(name=name)
        assert (contract.status, contract.contract_id) == ("broadcast", f"{WALLET}.{name}")
        follow = Job.objects.get(job_type__name="tx_confirmation", payload__object_id=contract.pk)
        assert follow.payload == {"tx_id": contract.tx_id, "kind": "dao_contract", "object_id": contract.pk}
        # Not confirmed yet: checking again sends nothing.
        make_due(step)
        step = run(step)
        assert len(service) == i + 1
        chain_says("success", contract)
        make_due(step)
        assert run(step).status == Status.SUCCEEDED
    dao = DAO.objects.get(token_symbol="NEW")
    assert dao.is_deployed
    assert (dao.dao_contract, dao.token_contract) == (f"{WALLET}.new-base-dao", f"{WALLET}.new-faktory")
    # The launch post is the workflow's last step, released by the last confirmation: once.
    (post,) = Job.objects.filter(job_type__name="dao_deployment_tweet")
    assert (post.pk, post.status) == (graph["launch post"].pk, Status.QUEUED)
    # Each is the template rendered for NEW: references to the DAO's contracts carry its symbol.
    voting = next(s for s in service if s["arguments"]["contract_name"] == "new-action-proposal-voting")
    code = [line for line in voting["arguments"]["source"].splitlines() if not line.lstrip().startswith(";;")]
    assert any(".new-faktory" in line for line in code)
    assert not any(".aibtc-faktory" in line for line in code)
    assert [s["key"] for s in service] == [f"dao_contract:{c.pk}:1" for c in DaoContract.objects.order_by("order")]


def test_a_deployment_asked_for_again_while_its_workflow_goes_on_adds_nothing(service: list[dict[str, Any]]) -> None:
    first = run(enqueue("dao_deployment", DEPLOYMENT))
    again = run(enqueue("dao_deployment", DEPLOYMENT))
    flow = first.result["data"]["workflow_id"]
    assert again.result["message"] == f"the deployment is under way in workflow {flow}"
    assert Job.objects.filter(workflow_id__isnull=False).count() == 6
    assert len(service) == 1


def test_a_failed_step_is_dead_and_re_running_it_lets_the_rest_go_on(
    service: list[dict[str, Any]], configure: Any, httpserver: HTTPServer, django_user_model: Any
) -> None:
    flow = run(enqueue("dao_deployment", DEPLOYMENT)).result["data"]["workflow_id"]
    graph = steps(flow)
    chain_says("success", DaoContract.objects.get(name=ORDER[0]))
    make_due(graph[ORDER[0]])
    run(graph[ORDER[0]])
    chain_says("abort_by_response", DaoContract.objects.get(name=ORDER[1]))
    make_due(graph[ORDER[1]])
    run(graph[ORDER[1]])
    # Sent again (a new transaction under a new key); the confirmed one never.
    names = [s["arguments"]["contract_name"] for s in service]
    assert names == [ORDER[0], ORDER[1], ORDER[1]]
    assert service[-1]["key"].endswith(":2")
    chain_says("abort_by_response", DaoContract.objects.get(name=ORDER[1]))
    make_due(graph[ORDER[1]])
    failed = run(graph[ORDER[1]])
    assert failed.status == Status.DEAD
    assert f"{ORDER[1]} failed on the chain (abort_by_response) after 2 sends" in failed.last_error
    # What waits for it is cancelled, naming it; nothing of it was sent.
    rest = [Job.objects.get(pk=graph[n].pk) for n in [*ORDER[2:], "launch post"]]
    assert {job.status for job in rest} == {Status.CANCELLED}
    assert f"dependency {failed.pk} (dao_deployment) ended dead" in rest[0].last_error
    # An operator fixes the cause and re-runs the step: the workflow goes on from there.
    configure("dao_deployment", tx_service_url=httpserver.url_for("/tx"), contracts_dir=CONTRACTS_DIR, max_sends=3)
    again = run(rerun(failed, by=django_user_model.objects.create_superuser("op", "op@example.com", "pw")))
    assert again.status == Status.SCHEDULED, again.last_error
    assert [s["arguments"]["contract_name"] for s in service][3:] == [ORDER[1]]
    assert {Job.objects.get(pk=job.pk).status for job in rest} == {Status.BLOCKED}
    assert DaoContract.objects.get(name=ORDER[0]).sends == 1
    chain_says("success", DaoContract.objects.get(name=ORDER[1]))
    make_due(again)
    run(again)
    assert [s["arguments"]["contract_name"] for s in service][3:] == ORDER[1:3]


def test_a_deployment_refused_by_the_service_is_dead_and_sends_nothing_more(
    configure: Any, httpserver: HTTPServer
) -> None:
    configure("dao_deployment", tx_service_url=httpserver.url_for("/tx"), contracts_dir=CONTRACTS_DIR)
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"status": "rejected", "reason": "no funds"})
    plan = run(enqueue("dao_deployment", DEPLOYMENT))
    first = steps(plan.result["data"]["workflow_id"])[ORDER[0]]
    first.refresh_from_db()
    assert first.status == Status.DEAD
    assert "refused the deployment of new-faktory: no funds" in first.last_error
    assert set(DaoContract.objects.values_list("status", flat=True)) == {"pending"}
    assert len(httpserver.log) == 1


def test_a_deployment_without_a_contract_source_is_dead_with_the_fix(configure: Any, httpserver: HTTPServer) -> None:
    configure("dao_deployment", tx_service_url=httpserver.url_for("/tx"))
    job = run(enqueue("dao_deployment", DEPLOYMENT))
    assert job.status == Status.DEAD
    assert "set the contracts_dir or the generator_url setting" in job.last_error


def test_the_generator_answer_is_deployed_in_its_order(configure: Any, httpserver: HTTPServer) -> None:
    configure("dao_deployment", tx_service_url=httpserver.url_for("/tx"), generator_url=httpserver.url_for("/gen"))
    contracts = [
        {"name": "aibtc-base-dao", "source": "(define-read-only (b) true)", "deploymentOrder": 20, "clarityVersion": 3},
        {"name": "aibtc-faktory", "source": "(define-read-only (f) true)", "deploymentOrder": 10, "clarityVersion": 3},
    ]
    httpserver.expect_request("/gen/api/generate-dao-contracts", method="POST").respond_with_json(
        {"success": True, "data": {"network": "mainnet", "tokenSymbol": "new", "contracts": contracts}}
    )
    httpserver.expect_request("/tx/contract-calls").respond_with_json(
        {"txid": "0x01", "status": "broadcast", "contract_id": f"{WALLET}.new-faktory"}
    )
    plan = run(enqueue("dao_deployment", DEPLOYMENT))
    assert plan.status == Status.SUCCEEDED, plan.last_error
    asked = json.loads(httpserver.log[0][0].get_data())
    assert asked["tokenSymbol"] == "NEW"
    assert asked["customReplacements"] == {"origin_address": WALLET, "dao_manifest": "Build"}
    sent = next(json.loads(r.get_data()) for r, _ in httpserver.log if r.path == "/tx/contract-calls")
    assert sent["arguments"]["contract_name"] == "new-faktory"
    assert list(DaoContract.objects.order_by("order").values_list("name", flat=True)) == ["new-faktory", "new-base-dao"]
    assert set(steps(plan.result["data"]["workflow_id"])) == {"new-faktory", "new-base-dao", "launch post"}


def test_agent_account_is_deployed_under_its_name_with_owner_and_agent(configure: Any, httpserver: HTTPServer) -> None:
    configure("agent_account_deploy", tx_service_url=httpserver.url_for("/tx"), contracts_dir=CONTRACTS_DIR)
    account = f"{WALLET}.{naming.agent_account_name(OWNER, AGENT)}"
    receipt = {"txid": "0xacc", "status": "broadcast", "contract_id": account}
    httpserver.expect_request("/tx/contract-calls").respond_with_json(receipt)
    payload = {"owner_address": OWNER, "agent_address": AGENT, "dao_token_contract": TOKEN}
    first = run(enqueue("agent_account_deploy", payload))
    second = run(enqueue("agent_account_deploy", payload))
    assert (first.status, second.status) == (Status.SUCCEEDED, Status.SUCCEEDED), first.last_error
    record = AgentAccount.objects.get()
    assert (record.account_contract, record.agent_address, record.tx_id) == (account, AGENT, "0xacc")
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["action"] == "deploy_agent_account"
    arguments = sent["arguments"]
    assert (arguments["owner_address"], arguments["agent_address"]) == (OWNER, AGENT)
    assert f"(define-constant ACCOUNT_OWNER '{OWNER})" in arguments["source"]
    assert f"(define-constant ACCOUNT_AGENT '{AGENT})" in arguments["source"]
    assert len(httpserver.log) == 1
    assert second.result["message"] == "already deployed"


def test_agent_account_without_a_configured_service_is_dead_not_defaulted(configure: Any) -> None:
    configure("agent_account_deploy")  # enabled, but no tx_service_url
    payload = {"owner_address": OWNER, "agent_address": AGENT, "dao_token_contract": TOKEN}
    job = run(enqueue("agent_account_deploy", payload))
    assert job.status == Status.DEAD
    assert "set the tx_service_url setting" in job.last_error
    assert not AgentAccount.objects.exists()
