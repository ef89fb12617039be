"""The chainhook endpoint's own limits: whole blocks with contract deployments, and NUL in decoded strings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from jobqueue.models import Job, Status
from tasks.clarity import Ascii, Principal, UInt, Utf8
from tasks.models import DAO, Chainhook, ParkedEvent
from tests.tasks import dao_chain, hiro
from tests.tasks.conftest import run

SECRET = "Bearer bloom-hook-secret-long-enough-to-pass"
URL = "/api/chainhooks/bloom-events/"


@pytest.fixture
def hook(configure: Callable[..., Any]) -> Chainhook:
    configure("chainhook_block")
    return Chainhook.objects.create(name="bloom-events", secret=SECRET, network="testnet")


@pytest.fixture
def bloom(make_dao: Callable[..., DAO]) -> DAO:
    return make_dao(dao_chain.SYMBOL, dao_contract=dao_chain.BASE_DAO, token_contract=dao_chain.TOKEN)


def post(body: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=SECRET)
    return client.post(URL, body, content_type="application/json")


def deployments_block(count: int, size: int) -> dict[str, Any]:
    """A block deploying `count` contracts of `size` characters of source each (a DAO's deployment)."""
    code = (";; the voting extension\n" * (size // 24 + 1))[:size]
    txs = [
        hiro.contract_deployment(
            f"deploy {i}", sender=dao_chain.DEPLOYER, contract=f"{dao_chain.DEPLOYER}.bloom-part-{i}", code=code
        )
        for i in range(count)
    ]
    return hiro.block(3_599_000, 93_100, txs)


def test_a_block_deploying_a_dao_is_accepted_above_the_api_limit(hook: Chainhook, bloom: DAO) -> None:
    # Ten 70 KB contracts (each source carried twice): ~2 MB, over the API's 256 KiB and Django's
    # 2.5 MB form limit would not matter, the endpoint's own limit does.
    body = json.dumps(dao_chain.deliver(deployments_block(10, 70_000)))
    assert len(body) > 2 * 1024 * 1024
    response = post(body)
    assert response.status_code == 202, response.content[:500]
    assert run(Job.objects.get(pk=response.json()["jobs"][0])).status == Status.SUCCEEDED


def test_the_limit_is_a_setting_and_over_it_is_413(hook: Chainhook, bloom: DAO) -> None:
    body = json.dumps(dao_chain.deliver(deployments_block(2, 70_000)))
    with override_settings(CHAINHOOK_MAX_BODY_BYTES=100_000):
        response = post(body)
    assert response.status_code == 413
    assert "over the limit of 100000 bytes" in response.json()["detail"]


def test_the_other_endpoints_keep_the_api_limit_and_refuse_nul(admin_client: Any) -> None:
    big = json.dumps({"job_type": "discord", "payload": {"content": "x" * 300_000}})
    assert admin_client.post("/api/jobs/", big, content_type="application/json").status_code == 413
    nul = json.dumps({"job_type": "discord", "payload": {"content": "a\u0000b"}})
    response = admin_client.post("/api/jobs/", nul, content_type="application/json")
    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_a_decoded_print_holding_nul_is_accepted_and_read(hook: Chainhook, bloom: DAO) -> None:
    """Chainhook renders a decoded Clarity string as is, NUL included; the vote is still read (here
    parked: its proposal is not known) with the string intact."""
    block = dao_chain.two_votes_through_agent_accounts(decoded=True)
    value = block["transactions"][0]["metadata"]["receipt"]["events"][1]["data"]["value"]
    assert value["notification"].endswith("/vote-on-action-proposal")
    # An agent account print carrying a string with NUL beside it (e.g. a memo of another call).
    block["transactions"][0]["metadata"]["receipt"]["events"].append(
        hiro.print_event(
            f"{dao_chain.DEPLOYER}.someone-elses-contract",
            {
                "notification": Ascii("x/y"),
                "payload": {"memo": Utf8("a\x00b"), "n": UInt(1), "p": Principal(dao_chain.DEPLOYER)},
            },
            2,
            decoded=True,
        )
    )
    body = json.dumps(dao_chain.deliver(block))
    assert "\\u0000" in body
    response = post(body)
    assert response.status_code == 202, response.content
    job = run(Job.objects.get(pk=response.json()["jobs"][0]))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert ParkedEvent.objects.count() == 2


def test_a_large_print_beside_ours_is_accepted(hook: Chainhook, bloom: DAO) -> None:
    """Another contract in the same transaction prints a large buffer (Clarity allows 1 MiB values):
    the delivery is taken, not answered 500."""
    block = dao_chain.two_votes_through_agent_accounts(decoded=False)
    events = block["transactions"][0]["metadata"]["receipt"]["events"]
    events.append(hiro.print_event(f"{dao_chain.DEPLOYER}.archive", b"\x07" * 300_000, 2, decoded=False))
    response = post(json.dumps(dao_chain.deliver(block)))
    assert response.status_code == 202, response.content[:300]
    assert run(Job.objects.get(pk=response.json()["jobs"][0])).status == Status.SUCCEEDED
