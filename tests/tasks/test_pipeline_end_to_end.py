"""The DAO pipeline end to end, from a proposal made in a Clarity VM to its posts.

The chain is a simnet of signer/clarity's contracts (tests/tasks/simnet_chain.py), answering
as the Stacks node the reference signer (Node, its own process) broadcasts to and as the Stacks
API the job types read. A proposal is created there through an agent account -> the block's
Chainhook delivery (made from the VM's print events, in one decode mode or the other) is POSTed
to our endpoint -> a real cluster records and evaluates the proposal -> once the test mines to
the proposal's voteStart, two votes go out through two agent accounts, signed by their agents,
and the VM counts them -> at execStart the conclusion goes out with its action -> the Discord
post and the tweet go out once each. Every transaction our signer built is one the VM answered
`(ok true)`. The later blocks' deliveries, a redelivery and a replay of the contracts' events
change nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from jobqueue import enqueue
from jobqueue.models import Job, JobType, Status
from jobqueue.services import sync_job_types, update_job_type
from tasks.models import Chainhook, Proposal, ProposalStatus, Vote, XAccount
from tests.conftest import wait_for
from tests.tasks.oauth import DEFAULT_IDENTITY, Identity, signed_by
from tests.tasks.simnet_chain import SERVICE_KEY, SimnetChain, register_dao

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

HOOK_SECRET = "Bearer e2e-hook-secret-long-enough-to-pass"
FACE = Identity("face-consumer-key", "face-consumer-secret", "7-face-access-token", "face-access-token-secret")
MESSAGE = "Pay two writers for a month.\n\n--- Metadata ---\nTitle: Fund the docs\nTags: docs|writers"


def configure(name: str, **settings: Any) -> None:
    update_job_type(JobType.objects.get(name=name), {"enabled": True, "settings": settings})


def jobs(name: str, **filters: Any) -> list[Job]:
    return list(Job.objects.filter(job_type__name=name, **filters))


def set_up_records(chain: SimnetChain, httpserver: HTTPServer, signer: str) -> None:
    """The deployment as an operator leaves it: job types configured, the DAO and its two agent
    accounts (those the simnet deployed), the DAO's X account, the chainhook's secret."""
    sync_job_types()
    api = {"chain_api_url": chain.url}
    tx = {"tx_service_url": signer, "tx_service_key": SERVICE_KEY}
    waits = {"max_wait_seconds": 1}
    configure("chainhook_block", **api)
    configure("chain_block_replay", **api)
    configure("dao_proposal_evaluation", llm_base_url=httpserver.url_for("/llm"), llm_api_key="k", **api)
    configure("dao_proposal_vote", **tx, **api, **waits)
    configure("dao_proposal_conclude", **tx, **api, **waits)
    configure("tx_confirmation", **api, first_check_seconds=0.5, max_check_seconds=1)
    configure("dao_proposal_announcement", wait_seconds=0.5)
    configure("discord", webhook_url=httpserver.url_for("/discord"))
    configure("tweet", social_api_url=httpserver.url_for("/x"), **DEFAULT_IDENTITY)
    x_account = XAccount.objects.create(
        name="facesdao",
        consumer_key=FACE.consumer_key,
        consumer_secret=FACE.consumer_secret,
        access_token=FACE.access_token,
        access_token_secret=FACE.access_token_secret,
    )
    register_dao(chain, x_account=x_account)
    Chainhook.objects.create(name="dao-events", secret=HOOK_SECRET)


def deliver(hook: APIClient, deliveries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answers = []
    for body in deliveries:
        response = hook.post("/api/chainhooks/dao-events/", body, format="json")
        assert response.status_code == 202, response.content
        answers.append(response.json())
    return answers


@pytest.mark.parametrize("decode", [False, True], ids=["raw_value", "decoded_value"])
def test_a_proposal_made_in_the_simnet_to_its_posts(
    start_cluster: Callable[..., Any],
    httpserver: HTTPServer,
    simnet_chain: SimnetChain,
    signer: str,
    tmp_path: Path,
    decode: bool,
) -> None:
    chain = simnet_chain
    answer = {"decision": "approve", "confidence": 0.9, "reasoning": "It serves the mission."}
    httpserver.expect_request("/llm/chat/completions").respond_with_json(
        {"choices": [{"message": {"content": json.dumps(answer)}}]}
    )
    httpserver.expect_request("/discord", method="POST").respond_with_data("", 204)
    httpserver.expect_request("/x/tweets", method="POST").respond_with_json({"data": {"id": "1900"}}, 201)
    set_up_records(chain, httpserver, signer)
    hook = APIClient()
    hook.credentials(HTTP_AUTHORIZATION=HOOK_SECRET)
    accounts = {a["contract"]: a for a in chain.info["accounts"]}
    accounts_first = chain.info["accounts"][0]["contract"]

    start_cluster(workers=2)
    from_height = chain.stacks_height + 1
    created = chain.propose(MESSAGE, memo="Docs first")
    assert created["result"] == "(ok true)"
    first = chain.deliveries(decode=decode, from_height=from_height)
    assert len(first) == 1  # the block that created the proposal: the VM's print events, as Chainhook sends them
    events = first[0]["apply"][0]["transactions"][0]["metadata"]["receipt"]["events"]
    prints = [e["data"] for e in events if e["type"] == "SmartContractEvent"]
    assert [p["contract_identifier"] for p in prints] == [accounts_first, chain.info["voting"]]
    assert all(("value" in p, "raw_value" in p) == (decode, not decode) for p in prints)
    assert [a["enqueued"] for a in deliver(hook, first)] == [1]
    next_height = first[-1]["apply"][0]["block_identifier"]["index"] + 1

    # Recorded with its window, text and action; evaluated for both accounts, whose votes wait.
    wait_for(lambda: Vote.objects.count() == 2, timeout=60, message="the proposal was not evaluated for both accounts")
    proposal = Proposal.objects.get()
    assert proposal.onchain_id == created["proposal_id"]
    assert (proposal.title, proposal.content, proposal.tags) == (
        "Fund the docs",
        "Pay two writers for a month.",
        ["docs", "writers"],
    )
    assert proposal.action_contract == chain.info["action"]
    assert proposal.voting_contract == chain.info["voting"]
    assert proposal.memo == "Docs first"
    assert proposal.created_tx_id == created["txid"]
    # The window the VM computed: voting opens VOTING_DELAY burn blocks after creation, lasts
    # VOTING_PERIOD, and the conclusion may come VOTING_DELAY after it closes (3 each in our contract).
    created_at = proposal.created_at_block
    windows = (proposal.starts_at_block, proposal.ends_at_block, proposal.executes_at_block)
    assert windows == (created_at + 3, created_at + 6, created_at + 9)
    assert sorted(Vote.objects.values_list("wallet_address", flat=True)) == sorted(accounts)
    wait_for(
        lambda: (
            len(
                jobs("dao_proposal_vote", last_error__contains=f"voting opens at burn block {proposal.starts_at_block}")
            )
            == 2
        ),
        timeout=30,
    )

    chain.mine_to(proposal.starts_at_block)
    wait_for(
        lambda: Vote.objects.filter(tx_status="success").count() == 2,
        timeout=60,
        message="the votes were not confirmed",
    )
    # Each vote counted with the voting power the VM counted for its account (its token balance
    # when the proposal was created), as the voting extension printed it.
    executed = chain.transactions()
    for vote in Vote.objects.all():
        assert (vote.approve, vote.voted) == (True, True)
        printed = [p["repr"] for p in executed[vote.tx_id]["prints"] if p["contract_id"] == chain.info["voting"]]
        assert f"(amount u{vote.amount})" in printed[0]
        assert f"(voter {vote.wallet_address})" in printed[0]
        assert vote.amount == int(accounts[vote.wallet_address]["balance"])

    # The conclusion waits for execStart, then goes out with its action and is confirmed.
    wait_for(
        lambda: jobs("dao_proposal_conclude", last_error__contains=f"burn block {proposal.executes_at_block}"),
        timeout=30,
    )
    chain.mine_to(proposal.executes_at_block)
    wait_for(
        lambda: Proposal.objects.filter(pk=proposal.pk, status=ProposalStatus.PASSED).exists(),
        timeout=60,
        message="the conclusion was never confirmed",
    )
    proposal.refresh_from_db()
    power = sum(int(a["balance"]) for a in accounts.values())
    assert (proposal.votes_for, proposal.votes_against, proposal.executed) == (power, 0, True)
    wait_for(lambda: len([r for r, _ in httpserver.log if r.path in ("/discord", "/x/tweets")]) >= 2, timeout=60)

    # Every transaction our signer built is one the VM answered (ok true): the votes through the
    # accounts, signed by their agents, and the conclusion, sent by the service's own key.
    executed = chain.transactions()
    ours = {v.tx_id: v for v in Vote.objects.all()}
    assert {executed[tx_id]["result"] for tx_id in [*ours, proposal.conclusion_tx_id]} == {"(ok true)"}
    for tx_id, vote in ours.items():
        assert executed[tx_id]["contract_id"] == vote.wallet_address
        assert executed[tx_id]["sender"] == accounts[vote.wallet_address]["agent"]
    conclusion = executed[proposal.conclusion_tx_id]
    assert (conclusion["contract_id"], conclusion["function_name"]) == (
        chain.info["voting"],
        "conclude-action-proposal",
    )
    assert conclusion["sender"] == chain.info["deployer"]

    # The later blocks' deliveries (the votes, the conclusion), a redelivery of all of them and a
    # replay of our contracts' events from the chain API change nothing.
    later = chain.deliveries(decode=decode, from_height=next_height)
    assert len(later) == 3
    assert [a["enqueued"] for a in deliver(hook, later)] == [1, 1, 1]
    assert [a["duplicates"] for a in deliver(hook, first + later)] == [1, 1, 1, 1]
    replay = enqueue("chain_block_replay", {"network": "mainnet"})
    wait_for(
        lambda: Job.objects.filter(pk=replay.pk, status=Status.SUCCEEDED).exists(),
        timeout=60,
        message="the replay did not finish",
    )
    replayed = Job.objects.get(pk=replay.pk).result
    delivered = [d["apply"][0]["block_identifier"]["index"] for d in first + later]
    assert set(delivered) <= set(replayed["data"]["blocks"])  # it read the same blocks (and the set-up's)
    assert replayed["counters"].get("not_understood", 0) == 0
    time.sleep(2)  # room for anything a duplicate would have set off
    discord = [r for r, _ in httpserver.log if r.path == "/discord"]
    tweets = [r for r, _ in httpserver.log if r.path == "/x/tweets"]
    assert len(discord) == 1
    assert len(tweets) == 1
    posted = json.loads(discord[0].get_data())
    assert posted["content"].startswith(f"✅ Approved: proposal #{proposal.onchain_id} of FACES DAO\nFund the docs")
    assert posted["allowed_mentions"] == {"parse": []}  # pings no one
    assert signed_by(tweets[0], FACE)
    assert (Proposal.objects.count(), Vote.objects.count()) == (1, 2)
    assert len(chain.transactions()) == len(executed)  # nothing more was sent
    # All of it was the proposal's lifecycle workflow, every step succeeded, and its last step posted.
    lifecycle = Job.objects.filter(workflow_id=proposal.workflow_id)
    assert sorted(lifecycle.values_list("job_type__name", "status")) == [
        ("dao_proposal_announcement", Status.SUCCEEDED),
        ("dao_proposal_conclude", Status.SUCCEEDED),
        ("dao_proposal_evaluation", Status.SUCCEEDED),
        ("dao_proposal_evaluation", Status.SUCCEEDED),
        ("dao_proposal_vote", Status.SUCCEEDED),
        ("dao_proposal_vote", Status.SUCCEEDED),
    ]
    (announcement,) = jobs("dao_proposal_announcement")
    assert {j.created_by for j in jobs("discord") + jobs("tweet")} == {f"job:{announcement.pk}"}
    assert len(jobs("dao_proposal_conclude")) == 1  # the lifecycle's: the reader schedules none of its own

    # Both sides kept to the published contract: what the Python client asked of the signer (as
    # the signer recorded it) and what the signer answers.
    contract = json.loads((Path(__file__).parents[2] / "docs" / "transaction-service.openapi.json").read_text())
    asked = json.loads((tmp_path / "signer-state.json").read_text())
    assert sorted(entry["action"] for entry in asked.values()) == ["conclude", "vote", "vote"]
    for entry in asked.values():
        schema = {**contract, "$ref": "#/components/schemas/ContractCall"}
        jsonschema.Draft202012Validator(schema).validate({"action": entry["action"], "arguments": entry["args"]})
        receipt = httpx.get(
            f"{signer}/transactions/{entry['answer']['txid']}", headers={"Authorization": f"Bearer {SERVICE_KEY}"}
        )
        assert receipt.status_code == 200
        jsonschema.Draft202012Validator({**contract, "$ref": "#/components/schemas/Receipt"}).validate(receipt.json())
        assert receipt.json()["status"] == "success"
