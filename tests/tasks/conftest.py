"""Fixtures of the job type tests: a job type pointed at the local HTTP server, and domain records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from jobqueue.models import Job, JobType
from jobqueue.services import sync_job_types, update_job_type
from jobqueue.testing import drain
from tasks.aibtc.naming import agent_account_name
from tasks.models import DAO, AgentAccount, Proposal
from tests.tasks.simnet_chain import signer, simnet_chain  # noqa: F401 - fixtures of the simnet tests

WALLET = "SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7"
OWNER = "SP3FBR2AGK5H9QBDH3EEN6DF8EK8JY7RX8QJ5SVTE"
AGENT = "SPMYA705ADHF9HNRJQG4ZW04X69ZBFV2GTZVEPRJ"
TOKEN = f"{WALLET}.face-faktory"
DEX = f"{WALLET}.face-faktory-dex"
VOTING = f"{WALLET}.face-action-proposal-voting"
ACTION = f"{WALLET}.face-action-send-message"
# The agent account of OWNER and AGENT, as deployed by WALLET: the voter of the DAO's proposals.
ACCOUNT = f"{WALLET}.{agent_account_name(OWNER, AGENT)}"
# A DAO deployment request (`dao_deployment`'s payload), as an operator enqueues it.
DEPLOYMENT = {
    "token_symbol": "NEW",
    "token_name": "New",
    "token_max_supply": 21_000_000,
    "token_decimals": 8,
    "origin_address": WALLET,
    "mission": "Build",
}
# Contract templates written for this repository with the aibtc interface (the signer's simnet runs them).
CONTRACTS_DIR = str(Path(__file__).parents[2] / "signer" / "clarity" / "contracts")


@pytest.fixture
def configure(db: None) -> Callable[..., JobType]:
    """Enable a job type and set its settings (as an operator would in the admin)."""

    def apply(name: str, options: dict[str, Any] | None = None, **settings: Any) -> JobType:
        sync_job_types()
        record = JobType.objects.get(name=name)
        return update_job_type(record, {"enabled": True, **(options or {}), "settings": settings})

    return apply


@pytest.fixture
def tx_service(httpserver: HTTPServer, configure: Callable[..., JobType]) -> Callable[[str], str]:
    """Point a job type's transaction service at the local server; returns the service's base URL."""

    def point(name: str) -> str:
        url = httpserver.url_for("/tx")
        configure(name, tx_service_url=url, tx_service_key="tx-secret-key")
        return url

    return point


@pytest.fixture
def make_dao(db: None) -> Callable[..., DAO]:
    def build(symbol: str = "FACE", **fields: Any) -> DAO:
        values: dict[str, Any] = {
            "name": f"{symbol} DAO",
            "mission": "Fund open source",
            "token_symbol": symbol,
            "token_name": f"{symbol} token",
            "token_max_supply": 1_000_000_000,
            "origin_address": WALLET,
            "dao_contract": f"{WALLET}.{symbol.lower()}-base-dao",
            "token_contract": f"{WALLET}.{symbol.lower()}-faktory",
            "is_broadcast": True,
            "is_deployed": True,
            "deployment_tx_id": f"0x{symbol.lower()}",
            **fields,
        }
        return DAO.objects.create(**values)

    return build


def face_with_account(make_dao: Callable[..., DAO], agent: str = AGENT, account: str = ACCOUNT) -> DAO:
    """The DAO FACE, with one agent account (of OWNER, with `agent`) that votes on its proposals."""
    dao = make_dao("FACE")
    AgentAccount.objects.create(
        owner_address=OWNER,
        dao_token_contract=dao.token_contract,
        dao_dex_contract=f"{WALLET}.face-dex",
        agent_address=agent,
        account_contract=account,
        tx_id="0xacc",
        is_deployed=True,
    )
    return dao


@pytest.fixture
def face(make_dao: Callable[..., DAO]) -> DAO:
    return face_with_account(make_dao)


@pytest.fixture
def make_proposal(make_dao: Callable[..., DAO]) -> Callable[..., Proposal]:
    def build(dao: DAO | None = None, **fields: Any) -> Proposal:
        dao = dao or DAO.objects.filter(token_symbol="FACE").first() or make_dao()
        # On-chain ids are unique per DAO: 7 for the first proposal, then 8, 9, ...
        values: dict[str, Any] = {
            "title": "Fund the docs",
            "content": "Pay two writers for a month.",
            "onchain_id": 7 + Proposal.objects.filter(dao=dao).count(),
            "voting_contract": f"{WALLET}.{dao.token_symbol.lower()}-action-proposal-voting",
            "action_contract": f"{WALLET}.{dao.token_symbol.lower()}-action-send-message",
        }
        return Proposal.objects.create(dao=dao, **{**values, **fields})

    return build


def run(job: Job) -> Job:
    """Run every ready job in-process through the real pipeline (jobqueue.testing); return `job` reloaded."""
    drain()
    job.refresh_from_db()
    return job


def make_due(job: Job) -> None:
    """Let a retrying or waiting job run now instead of after its delay."""
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now() - timedelta(seconds=1))


def assert_waits(job: Job, seconds: float, slack: float = 5.0) -> None:
    """The job is due again about `seconds` from now (as a Retry-After asked)."""
    delay = (job.run_after - timezone.now()).total_seconds()
    assert seconds - slack <= delay <= seconds + 0.5, delay
