"""The simnet chain (signer/tools/simnet-chain.js) and the reference signer, as processes the suite starts.

The chain is a Clarity VM (a clarinet-sdk simnet of signer/clarity's contracts) answering as a
Stacks node and a Stacks API: the signer broadcasts to it and each transaction executes there,
the job types read it as they read Hiro's API, and it hands out every block it mined as a Hiro
Chainhook delivery in either decode mode. Node and signer/node_modules (`cd signer && npm ci`,
as scripts/test.sh does before the suite) are required: without them these tests fail, saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import wait_for

SIGNER = Path(__file__).parents[2] / "signer"
# signer/test/keys.js: the service's own key (its testnet address deploys the DAO) and the agents'.
SIGNER_KEY = "99da56b1ae14fc38bfe848808df771d585b9418743e37452522f7fcb2317d49c01"
AGENT_KEYS = (
    "0590dd58a59ad8dbaf448a1271b70a5c4507765d4363f184c027d7d8d9afac0301",
    "072c96b6915f4a0ebe9ff13e21a09155b4e63c42ff1d2985b20c237dbcca125701",
)
SERVICE_KEY = "e2e-service-key"
START_SECONDS = 60


def node_or_fail() -> str:
    """The node binary; fails the test (never skips it) when Node or the signer's packages are missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js 20 or later is needed for the simnet and the reference signer: install it (apt-get install nodejs npm)"
        )
    if not (SIGNER / "node_modules" / "@stacks" / "clarinet-sdk").is_dir():
        pytest.fail(
            "signer/node_modules is missing: run `cd signer && npm ci` (scripts/test.sh does it before the suite)"
        )
    return node


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SimnetChain:
    """The running chain: its URL, the contracts and agent accounts it set up, and its controls."""

    url: str
    info: dict[str, Any]

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}{path}", timeout=30, **kwargs)
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text[:2000]}"
        return response.json()

    @property
    def stacks_height(self) -> int:
        return int(self._call("GET", "/extended/v1/status")["chain_tip"]["block_height"])

    @property
    def burn_height(self) -> int:
        return int(self._call("GET", "/extended/v1/status")["chain_tip"]["burn_block_height"])

    def mine_burn_blocks(self, count: int) -> int:
        return int(self._call("POST", "/control/burn-blocks", json={"count": count})["burn_height"])

    def mine_to(self, burn_height: int) -> None:
        if burn_height > self.burn_height:
            self.mine_burn_blocks(burn_height - self.burn_height)

    def propose(self, message: str, memo: str | None = None) -> dict[str, Any]:
        """Create a proposal through the first agent account, signed by its owner."""
        return dict(self._call("POST", "/control/propose", json={"message": message, "memo": memo}))

    def perform(self, action: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Sign and broadcast with the signer's own code (src/service.js), in the chain's process."""
        return dict(self._call("POST", "/control/perform", json={"action": action, "arguments": arguments}))

    def transactions(self) -> dict[str, dict[str, Any]]:
        """Every transaction the VM executed, by txid, with its result."""
        return {tx["txid"]: tx for tx in self._call("GET", "/control/transactions")}

    def deliveries(self, *, decode: bool, from_height: int = 0, uuid: str = "simnet-chain") -> list[dict[str, Any]]:
        """Chainhook's POST bodies for the blocks mined at `from_height` and after."""
        params = {"decode": "true" if decode else "false", "from": from_height, "uuid": uuid}
        return list(self._call("GET", "/control/deliveries", params=params))


@contextlib.contextmanager
def running_chain(log_dir: Path) -> Iterator[SimnetChain]:
    """Start the simnet chain (it deploys the DAO and the accounts first); stop it on exit."""
    node = node_or_fail()
    log, ready = log_dir / "simnet-chain.log", log_dir / "simnet-chain.json"
    env = {**os.environ, "SIMNET_CHAIN_READY_FILE": str(ready)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [node, "tools/simnet-chain.js"], cwd=SIGNER, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_for(lambda: ready.exists() or process.poll() is not None, timeout=START_SECONDS)
            assert ready.exists(), f"the simnet chain did not start:\n{log.read_text()[-4000:]}"
            info = json.loads(ready.read_text())
            yield SimnetChain(info["url"], info)
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def simnet_chain(tmp_path: Path) -> Iterator[SimnetChain]:
    with running_chain(tmp_path) as chain:
        yield chain


@pytest.fixture
def signer(simnet_chain: SimnetChain, tmp_path: Path) -> Iterator[str]:
    """The reference transaction service, started as its README says, broadcasting to the simnet."""
    node = node_or_fail()
    port = free_port()
    env = {
        **os.environ,
        "SIGNER_PRIVATE_KEY": SIGNER_KEY,
        "SIGNER_AGENT_KEYS": ",".join(AGENT_KEYS),
        "SIGNER_NETWORK": "testnet",
        "STACKS_NODE_URL": simnet_chain.url,
        "SIGNER_API_KEY": SERVICE_KEY,
        "SIGNER_FEE_USTX": "3000",
        "SIGNER_PORT": str(port),
        "SIGNER_STATE_FILE": str(tmp_path / "signer-state.json"),
    }
    log_path = tmp_path / "signer.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([node, "src/server.js"], cwd=SIGNER, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: b"transaction service" in log_path.read_bytes() or process.poll() is not None, timeout=20)
            assert process.poll() is None, f"the signer did not start:\n{log_path.read_text()}"
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def register_dao(chain: SimnetChain, **extra: Any) -> Any:
    """The simnet's DAO and its agent accounts as this deployment records them (an operator's
    registration in the admin): the DAO by its deployed contracts, each account with its owner,
    agent and contract. `extra` adds DAO fields (its X account)."""
    from tasks.models import DAO, AgentAccount

    dao = DAO.objects.create(
        name="FACES DAO",
        mission="Fund open source",
        token_symbol="FACES",
        token_name="Faces",
        token_max_supply=1_000_000_000,
        origin_address=chain.info["deployer"],
        dao_contract=chain.info["dao"],
        token_contract=chain.info["token"],
        is_broadcast=True,
        is_deployed=True,
        **extra,
    )
    for i, account in enumerate(chain.info["accounts"]):
        AgentAccount.objects.create(
            owner_address=account["owner"],
            agent_address=account["agent"],
            account_contract=account["contract"],
            dao_token_contract=chain.info["token"],
            tx_id=f"0xacc{i}",
            is_deployed=True,
        )
    return dao
