"""The DAO pipeline end to end through real clusters, the reference signer (Node) and local servers
standing in for the Stacks API and node, the language model, X and Discord.

A chainhook delivers the block that creates proposal 7 -> the proposal is recorded and
evaluated -> the vote waits for its start height, goes out through signer/ and is confirmed ->
at the execution height the conclusion goes out and is confirmed -> the Discord post and the
tweet (signed for the DAO's own X account) go out once each. A redelivery and a replay change
nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient
from werkzeug import Request, Response

from jobqueue import enqueue
from jobqueue.models import Job, JobType, Status
from jobqueue.services import sync_job_types, update_job_type
from tasks.aibtc.naming import agent_account_name
from tasks.models import DAO, AgentAccount, Chainhook, Proposal, ProposalStatus, Vote, XAccount
from tests.conftest import wait_for
from tests.tasks.conftest import OWNER, VOTING, WALLET
from tests.tasks.oauth import DEFAULT_IDENTITY, Identity, signed_by
from tests.tasks.recorded import RecordedChain, load

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

SIGNER = Path(__file__).parents[2] / "signer"
SIGNER_KEY = "99da56b1ae14fc38bfe848808df771d585b9418743e37452522f7fcb2317d49c01"  # signer/test/keys.js
SIGNER_ADDRESS = "SPMYA705ADHF9HNRJQG4ZW04X69ZBFV2GTZVEPRJ"
# The agent of ACCOUNT (tests/tasks/conftest.py), whose key the signer holds (signer/test/keys.js).
AGENT_KEY = "0590dd58a59ad8dbaf448a1271b70a5c4507765d4363f184c027d7d8d9afac0301"
AGENT = "SP2RR5T1RW9M9DE3BDA46QC8GF7QZXAA9ZQQFW6ZD"
ACCOUNT = f"{WALLET}.{agent_account_name(OWNER, AGENT)}"
DAO_CONTRACT = f"{WALLET}.face-base-dao"
HOOK_SECRET = "Bearer e2e-hook-secret-long-enough-to-pass"
FACE = Identity("face-consumer-key", "face-consumer-secret", "7-face-access-token", "face-access-token-secret")
CONCLUDE_PRINT = next(
    v for k, v in load("stacks_api/block_150100_votes_and_concludes_proposal_7.json").items() if "0x5555" in k
)["events"][0]


NODE_FIXTURES = Path(__file__).parent / "fixtures" / "stacks_node"


class NodeDouble:
    """A Stacks node and API as the signer uses them: nonces (possible_next_nonce, counting what
    it accepted), no fee estimate (the signer's configured fee), the contracts' interfaces (those of
    signer/clarity's contracts, as the simnet reads them) and POST /v2/transactions. Each accepted
    transaction shows up in the Stacks API double as successful (a conclusion with the DAO's print)."""

    def __init__(self, httpserver: HTTPServer, chain: RecordedChain) -> None:
        self.chain = chain
        self.broadcasts: list[tuple[str, str]] = []
        self.senders: list[str] = []
        httpserver.expect_request(re.compile(r"^/node/extended/v1/address/[^/]+/nonces$")).respond_with_handler(
            self.nonces
        )
        httpserver.expect_request("/node/v2/fees/transaction", method="POST").respond_with_json(
            {"error": "Estimation could not be performed", "reason": "NoEstimateAvailable"}, 400
        )
        httpserver.expect_request(re.compile(r"^/node/v2/contracts/interface/.*")).respond_with_handler(self.interface)
        httpserver.expect_request("/node/v2/transactions", method="POST").respond_with_handler(self.accept)
        # The API's view of a transaction, as the chain double records it (the signer's GET /transactions).
        httpserver.expect_request(re.compile(r"^/node/extended/v1/tx/")).respond_with_handler(self.transaction)

    def transaction(self, request: Request) -> Response:
        body = self.chain.responses.get(request.path.removeprefix("/node"))
        if body is None:
            return Response(json.dumps({"error": "not found"}), status=404, content_type="application/json")
        return Response(json.dumps(body), content_type="application/json")

    def nonces(self, request: Request) -> Response:
        address = request.path.split("/")[-2]
        sent = self.senders.count(address)
        body = {"possible_next_nonce": sent, "detected_missing_nonces": [], "last_executed_tx_nonce": None}
        return Response(json.dumps(body), content_type="application/json")

    def interface(self, request: Request) -> Response:
        name = request.path.rsplit("/", 1)[-1]
        template = "aibtc-agent-account" if name.startswith("aibtc-acct-") else "aibtc-action-proposal-voting"
        return Response((NODE_FIXTURES / f"interface_{template}.json").read_text(), content_type="application/json")

    def accept(self, request: Request) -> Response:
        assert request.content_type == "application/octet-stream"
        raw = request.get_data()
        txid = hashlib.new("sha512_256", raw).hexdigest()
        function = "conclude-action-proposal" if b"conclude-action-proposal" in raw else "vote-on-action-proposal"
        contract = VOTING if function.startswith("conclude") else ACCOUNT
        self.broadcasts.append((function, txid))
        self.senders.append(AGENT if function.startswith("vote") else SIGNER_ADDRESS)
        events = [{**CONCLUDE_PRINT, "tx_id": f"0x{txid}"}] if function.startswith("conclude") else []
        self.chain.add(
            {
                f"/extended/v1/tx/0x{txid}": {
                    "tx_id": f"0x{txid}",
                    "tx_status": "success",
                    "tx_type": "contract_call",
                    "sender_address": self.senders[-1],
                    "contract_call": {"contract_id": contract, "function_name": function, "function_args": []},
                    "tx_result": {"hex": "0x0703", "repr": "(ok true)"},
                    "event_count": len(events),
                    "events": events,
                }
            }
        )
        return Response(json.dumps(txid), content_type="application/json")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def signer(httpserver: HTTPServer, tmp_path: Path) -> Iterator[str]:
    """The reference transaction service, started as its README says, pointed at the node double."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run the reference signer")
    if not (SIGNER / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=SIGNER, check=True, capture_output=True)
    port = free_port()
    env = {
        **os.environ,
        "SIGNER_PRIVATE_KEY": SIGNER_KEY,
        "SIGNER_AGENT_KEYS": AGENT_KEY,
        "STACKS_NODE_URL": httpserver.url_for("/node"),
        "SIGNER_API_KEY": "e2e-service-key",
        "SIGNER_FEE_USTX": "3000",
        "SIGNER_PORT": str(port),
        "SIGNER_STATE_FILE": str(tmp_path / "signer-state.json"),
    }
    log = (tmp_path / "signer.log").open("wb")
    process = subprocess.Popen(["node", "src/server.js"], cwd=SIGNER, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: b"transaction service" in (tmp_path / "signer.log").read_bytes(), timeout=20)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def configure(name: str, **settings: Any) -> None:
    update_job_type(JobType.objects.get(name=name), {"enabled": True, "settings": settings})


def jobs(name: str, **filters: Any) -> list[Job]:
    return list(Job.objects.filter(job_type__name=name, **filters))


def test_a_proposal_from_a_chainhook_to_its_posts(
    start_cluster: Callable[..., Any], httpserver: HTTPServer, signer: str, tmp_path: Path
) -> None:
    signer_state = tmp_path / "signer-state.json"
    chain = RecordedChain(httpserver).at(burn_height=870_001, seconds_per_block=1)
    chain.add_recorded_block(load("stacks_api/block_150000_creates_proposal_7.json"))
    node = NodeDouble(httpserver, chain)
    answer = {"decision": "approve", "confidence": 0.9, "reasoning": "It serves the mission."}
    httpserver.expect_request("/llm/chat/completions").respond_with_json(
        {"choices": [{"message": {"content": json.dumps(answer)}}]}
    )
    httpserver.expect_request("/discord", method="POST").respond_with_data("", 204)
    httpserver.expect_request("/x/tweets", method="POST").respond_with_json({"data": {"id": "1900"}}, 201)

    sync_job_types()
    api = {"chain_api_url": chain.url}
    tx = {"tx_service_url": signer, "tx_service_key": "e2e-service-key"}
    waits = {"max_wait_seconds": 1}
    configure("chainhook_block", seconds_per_burn_block=0.01)  # the conclusion is due about 2 s later
    configure("chain_block_replay", **api)
    configure("dao_proposal_evaluation", llm_base_url=httpserver.url_for("/llm"), llm_api_key="k")
    configure("dao_proposal_vote", **tx, **api, **waits)
    configure("dao_proposal_conclude", **tx, **api, **waits)
    configure("tx_confirmation", **api, first_check_seconds=0.5, max_check_seconds=1)
    configure("discord", webhook_url=httpserver.url_for("/discord"))
    configure("tweet", social_api_url=httpserver.url_for("/x"), **DEFAULT_IDENTITY)
    account = XAccount.objects.create(
        name="facedao",
        consumer_key=FACE.consumer_key,
        consumer_secret=FACE.consumer_secret,
        access_token=FACE.access_token,
        access_token_secret=FACE.access_token_secret,
    )
    dao = DAO.objects.create(
        name="FACE DAO",
        mission="Fund open source",
        token_symbol="FACE",
        token_name="Face",
        token_max_supply=1_000_000,
        origin_address=WALLET,
        dao_contract=DAO_CONTRACT,
        token_contract=f"{WALLET}.face-faktory",
        is_broadcast=True,
        is_deployed=True,
        x_account=account,
    )
    AgentAccount.objects.create(
        owner_address=OWNER,
        agent_address=AGENT,
        account_contract=ACCOUNT,
        dao_token_contract=dao.token_contract,
        tx_id="0xacc",
        is_deployed=True,
    )
    Chainhook.objects.create(name="dao-events", secret=HOOK_SECRET)
    hook = APIClient()
    hook.credentials(HTTP_AUTHORIZATION=HOOK_SECRET)
    delivery = load("chainhook/apply_block_150000_creating_proposal_7.json")

    start_cluster(workers=2)
    assert hook.post("/api/chainhooks/dao-events/", delivery, format="json").json()["enqueued"] == 1

    # Recorded and evaluated; the vote waits for burn block 870012.
    vote = wait_for(lambda: Vote.objects.filter(wallet_address=ACCOUNT).first(), timeout=60)
    proposal = Proposal.objects.get()
    assert (proposal.onchain_id, vote.approve, vote.voted) == (7, True, False)
    wait_for(lambda: jobs("dao_proposal_vote", last_error__contains="voting opens at burn block 870012"), timeout=30)
    assert node.broadcasts == []

    chain.at(burn_height=870_012, seconds_per_block=1)
    wait_for(
        lambda: Vote.objects.filter(pk=vote.pk, tx_status="success").exists(), timeout=60, message="vote not confirmed"
    )
    vote.refresh_from_db()
    assert [f for f, _ in node.broadcasts] == ["vote-on-action-proposal"]
    assert node.senders == [AGENT]  # through the account, signed by its agent
    assert vote.tx_id == f"0x{node.broadcasts[0][1]}"

    # The conclusion waits for execStart (870168), then goes out and is confirmed.
    wait_for(lambda: jobs("dao_proposal_conclude", last_error__contains="burn block 870168"), timeout=30)
    chain.at(burn_height=870_168, seconds_per_block=1)
    wait_for(
        lambda: Proposal.objects.filter(pk=proposal.pk, status=ProposalStatus.PASSED).exists(),
        timeout=60,
        message="the conclusion was never confirmed",
    )
    posted = wait_for(lambda: [r for r, _ in httpserver.log if r.path in ("/discord", "/x/tweets")][1:], timeout=60)
    assert [f for f, _ in node.broadcasts] == ["vote-on-action-proposal", "conclude-action-proposal"]

    # A redelivered chainhook and a replay of the contracts' events change nothing.
    assert hook.post("/api/chainhooks/dao-events/", delivery, format="json").json()["duplicates"] == 1
    replay = enqueue("chain_block_replay", {"network": "mainnet"})
    wait_for(lambda: Job.objects.filter(pk=replay.pk, status=Status.SUCCEEDED).exists(), timeout=30)
    assert Job.objects.get(pk=replay.pk).result["data"]["blocks"] == [150_000]
    time.sleep(3)  # room for anything a duplicate would have set off
    discord = [r for r, _ in httpserver.log if r.path == "/discord"]
    tweets = [r for r, _ in httpserver.log if r.path == "/x/tweets"]
    assert len(discord) == 1
    assert len(tweets) == 1
    assert posted
    posted_discord = json.loads(discord[0].get_data())
    assert posted_discord["content"].startswith("✅ Approved: proposal #7 of FACE DAO\nFund the docs")
    assert posted_discord["allowed_mentions"] == {"parse": []}  # pings no one
    assert signed_by(tweets[0], FACE)
    assert len(node.broadcasts) == 2
    assert Proposal.objects.count() == 1
    assert Vote.objects.count() == 1

    # Both sides kept to the published contract: what the Python client asked of the signer (as
    # the signer recorded it) and what the signer answers.
    contract = json.loads((Path(__file__).parents[2] / "docs" / "transaction-service.openapi.json").read_text())
    asked = json.loads((signer_state).read_text())
    assert {entry["action"] for entry in asked.values()} == {"vote", "conclude"}
    for entry in asked.values():
        schema = {**contract, "$ref": "#/components/schemas/ContractCall"}
        jsonschema.Draft202012Validator(schema).validate({"action": entry["action"], "arguments": entry["args"]})
        answer = httpx.get(
            f"{signer}/transactions/{entry['answer']['txid']}", headers={"Authorization": "Bearer e2e-service-key"}
        )
        assert answer.status_code == 200
        jsonschema.Draft202012Validator({**contract, "$ref": "#/components/schemas/Receipt"}).validate(answer.json())
