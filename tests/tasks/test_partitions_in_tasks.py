"""This deployment's partitioned job types: tweets per X account, proposals per DAO, the chain
API's types per Hiro key, and the transaction types per signing key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobqueue import enqueue
from jobqueue.models import Job, JobType
from jobqueue.services import update_job_type
from tasks.aibtc.naming import agent_account_name
from tasks.models import DAO, AgentAccount, XAccount
from tests.helpers import claim, job_ids
from tests.tasks.conftest import ACCOUNT, AGENT, DEPLOYMENT, OWNER, TOKEN, WALLET

OTHER_AGENT = "SP1P72Z3704VMT3DMHPP2CB8TGQWGDBHD3RPR9GZS"

pytestmark = pytest.mark.django_db


def _account(name: str) -> XAccount:
    return XAccount.objects.create(
        name=name,
        consumer_key="ck",
        consumer_secret="cs",
        access_token="at",
        access_token_secret="ats",
    )


def test_tweets_are_partitioned_by_the_x_account_they_are_posted_as(make_dao: Any) -> None:
    shared = _account("shared")
    one = make_dao("ONE", x_account=shared)
    two = make_dao("TWO", x_account=shared)
    own = make_dao("OWN", x_account=_account("own"))
    plain = make_dao("PLAIN")
    keys = [enqueue("tweet", {"text": "gm", "dao_id": dao.pk}).partition_key for dao in (one, two, own, plain)]
    assert keys == [f"x-account:{shared.pk}", f"x-account:{shared.pk}", f"x-account:{own.x_account_id}", ""]
    assert enqueue("tweet", {"text": "gm"}).partition_key == ""  # the type's default identity


def test_one_thread_at_a_time_per_x_account(make_dao: Any) -> None:
    update_job_type(JobType.objects.get(name="tweet"), {"enabled": True})
    shared = _account("shared")
    daos = [make_dao("ONE", x_account=shared), make_dao("TWO", x_account=shared), make_dao("OWN")]
    for dao in daos:
        enqueue("tweet", {"text": "gm", "dao_id": dao.pk})
    claimed = job_ids(claim(10))
    assert len(claimed) == 2  # one of the shared account's two, and the default identity's


def test_proposal_jobs_are_partitioned_by_dao(make_dao: Any, make_proposal: Any) -> None:
    face, other = make_dao("FACE"), make_dao("OTHR")
    first, second, third = make_proposal(face), make_proposal(face), make_proposal(other)
    keys = [
        enqueue("dao_proposal_evaluation", {"proposal_id": p.pk, "wallet_address": WALLET}).partition_key
        for p in (first, second, third)
    ]
    assert keys == [f"dao:{face.pk}", f"dao:{face.pk}", f"dao:{other.pk}"]
    assert enqueue("dao_proposal_announcement", {"proposal_id": third.pk}).partition_key == f"dao:{other.pk}"


def test_chain_api_types_are_partitioned_by_a_label_of_the_hiro_key_never_the_key(configure: Any) -> None:
    key = "9f86d081884c7d659a2feaa0c55ad015"
    for name in ("tx_confirmation", "chain_block_replay", "chain_state_monitor"):
        configure(name, chain_api_url="https://api.testnet.hiro.so", chain_api_key=key)
    follow = {"tx_id": "0x01", "kind": "vote", "object_id": 1}
    keyed = [
        enqueue("tx_confirmation", follow).partition_key,
        enqueue("chain_block_replay", {"network": "testnet"}).partition_key,
        enqueue("chain_state_monitor").partition_key,
    ]
    assert len(set(keyed)) == 1
    assert keyed[0].startswith("hiro-key:")
    assert len(keyed[0]) == len("hiro-key:") + 12
    assert key not in keyed[0]
    assert key not in json.dumps(list(Job.objects.values_list("partition_key", flat=True)))
    # Another key is another partition (its own budget); no key: the host's per-client limit.
    configure("tx_confirmation", chain_api_url="https://api.testnet.hiro.so", chain_api_key="another key")
    other = enqueue("tx_confirmation", {**follow, "tx_id": "0x02"}).partition_key
    configure("tx_confirmation", chain_api_url="https://api.testnet.hiro.so")
    bare = enqueue("tx_confirmation", {**follow, "tx_id": "0x03"}).partition_key
    assert other.startswith("hiro-key:")
    assert other != keyed[0]
    assert bare == "chain-api:api.testnet.hiro.so"


def test_a_hiro_key_s_rate_holds_per_key(configure: Any) -> None:
    configure("tx_confirmation", {"partition_rate_limit": "2/m"}, chain_api_url="http://chain", chain_api_key="k1")
    first = [enqueue("tx_confirmation", {"tx_id": f"0x1{i}", "kind": "vote", "object_id": 1}) for i in range(3)]
    configure("tx_confirmation", {"partition_rate_limit": "2/m"}, chain_api_url="http://chain", chain_api_key="k2")
    second = [enqueue("tx_confirmation", {"tx_id": f"0x2{i}", "kind": "vote", "object_id": 1}) for i in range(3)]
    claimed = set(job_ids(claim(10)))
    assert len(claimed & {str(j.pk) for j in first}) == 2
    assert len(claimed & {str(j.pk) for j in second}) == 2


def test_signed_transactions_are_partitioned_by_the_signer(configure: Any, face: DAO, make_proposal: Any) -> None:
    for name in ("dao_proposal_vote", "dao_proposal_conclude", "dao_deployment", "agent_account_deploy"):
        configure(name, tx_service_url="https://signer.internal:8787/", tx_service_key="bearer secret")
    proposal = make_proposal(face)
    # A vote is signed with the agent key of the account it goes through: its address, public on chain.
    vote = enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT})
    assert vote.partition_key == f"signer:agent:{AGENT}"
    # Conclusions, deployments and agent accounts are signed with the service's own key.
    service = "signer:service@signer.internal:8787"
    assert enqueue("dao_proposal_conclude", {"proposal_id": proposal.pk}).partition_key == service
    assert enqueue("dao_deployment", DEPLOYMENT).partition_key == service
    account = {"owner_address": OWNER, "agent_address": AGENT, "dao_token_contract": TOKEN}
    assert enqueue("agent_account_deploy", account).partition_key == service
    assert "bearer secret" not in json.dumps(list(Job.objects.values_list("partition_key", flat=True)))


def test_one_vote_at_a_time_per_agent(configure: Any, face: DAO, make_proposal: Any) -> None:
    configure("dao_proposal_vote", tx_service_url="http://signer")
    other = f"{WALLET}.{agent_account_name(OWNER, OTHER_AGENT)}"
    AgentAccount.objects.create(
        owner_address=OWNER,
        dao_token_contract=TOKEN.replace("face", "othr"),
        agent_address=OTHER_AGENT,
        account_contract=other,
        is_deployed=True,
    )
    proposals = [make_proposal(face) for _ in range(3)]
    for proposal in proposals:
        enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": ACCOUNT})
        enqueue("dao_proposal_vote", {"proposal_id": proposal.pk, "wallet_address": other})
    claimed = Job.objects.filter(pk__in=job_ids(claim(10)))
    assert sorted(claimed.values_list("partition_key", flat=True)) == sorted(
        [f"signer:agent:{AGENT}", f"signer:agent:{OTHER_AGENT}"]
    )
