"""Invalid input is refused at enqueue, field by field, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from jobqueue import PayloadValidationError, enqueue
from jobqueue.models import Job
from tests.tasks.conftest import OWNER, TOKEN, WALLET

DEPLOYMENT = {
    "token_symbol": "FACE",
    "token_name": "Face",
    "token_max_supply": 1000,
    "origin_address": WALLET,
    "mission": "m",
}

BAD = [
    ("dao_deployment", {**DEPLOYMENT, "token_symbol": "face"}, "payload.token_symbol"),
    ("dao_deployment", {**DEPLOYMENT, "token_max_supply": 0}, "payload.token_max_supply"),
    ("dao_deployment", {**DEPLOYMENT, "token_decimals": 19}, "payload.token_decimals"),
    ("dao_deployment", {**DEPLOYMENT, "origin_address": "0xnot-a-stacks-address"}, "payload.origin_address"),
    ("dao_deployment", {**DEPLOYMENT, "mission": "   "}, "payload.mission"),
    ("dao_deployment", {k: v for k, v in DEPLOYMENT.items() if k != "mission"}, "payload.mission"),
    ("tweet", {"text": ""}, "payload.text"),
    ("tweet", {"text": "hi", "image_url": "not a url"}, "payload.image_url"),
    ("tweet", {"text": "hi", "reply_to": "abc"}, "payload.reply_to"),
    ("tweet", {"text": "hi", "dao_id": 0}, "payload.dao_id"),
    ("tweet", {"text": "hi", "extra": 1}, "payload.extra"),
    ("discord", {}, "payload"),
    ("discord", {"content": "x", "proposal_status": "maybe"}, "payload.proposal_status"),
    ("discord", {"content": "x" * 2001}, "payload.content"),
    ("dao_deployment_tweet", {}, "payload.dao_id"),
    ("dao_proposal_evaluation", {"proposal_id": 1, "wallet_address": "alice"}, "payload.wallet_address"),
    ("dao_proposal_vote", {"proposal_id": -1, "wallet_address": WALLET}, "payload.proposal_id"),
    ("dao_proposal_conclude", {"proposal_id": "seven"}, "payload.proposal_id"),
    ("agent_account_deploy", {"owner_address": OWNER, "dao_token_contract": TOKEN}, "payload.agent_address"),
    (
        "agent_account_deploy",
        {"owner_address": OWNER, "agent_address": OWNER, "dao_token_contract": WALLET},
        "payload.dao_token_contract",
    ),
    ("dao_proposal_embedder", {"proposal_ids": [0]}, "payload.proposal_ids.0"),
    ("chain_state_monitor", {"network": "mainnet"}, "payload.network"),
    ("chain_block_replay", {"network": "Main Net"}, "payload.network"),
    ("chain_block_replay", {"height": 150_000}, "payload.height"),  # one replay reads every block now
]


@pytest.mark.parametrize(("name", "payload", "path"), BAD, ids=[f"{n}:{p}" for n, _, p in BAD])
def test_bad_payload_refused_at_enqueue(db: None, name: str, payload: dict[str, Any], path: str) -> None:
    with pytest.raises(PayloadValidationError) as refused:
        enqueue(name, payload)
    assert path in refused.value.errors
    assert not Job.objects.exists()


def test_scheduled_types_accept_an_empty_payload(db: None) -> None:
    assert enqueue("chain_state_monitor").payload == {}
    assert enqueue("dao_proposal_embedder").payload == {"proposal_ids": []}
