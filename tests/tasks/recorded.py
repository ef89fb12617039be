"""Serving recorded Stacks API responses (tests/tasks/fixtures/stacks_api/*.json) from the local server.

A fixture maps a request (path, plus the `tx_id` and `offset` query parameters when the API
pages) to the response the API documents for it; anything not recorded is a 404, as the API
answers for an unknown block or transaction. Blocks built by `tests.tasks.hiro` can be added
too: their transactions are served by `GET extended/v1/tx/{tx_id}` and their print events by
`GET extended/v1/contract/{contract_id}/events`, as the API lists them (stacks-blockchain-api's
`getSmartContractEvents`: canonical events by block height, transaction index and event index,
newest first; `limit` 20 by default and at most 50, else a 400; `offset`; no total).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.tasks import hiro

FIXTURES = Path(__file__).parent / "fixtures"
PREFIX = "/chain"
CONTRACT_EVENTS = re.compile(r"^/extended/v1/contract/([^/]+)/events$")
TRANSACTION = re.compile(r"^/extended/v1/tx/(0x[0-9a-fA-F]+)$")
EVENTS_LIMIT, EVENTS_MAX_LIMIT = 20, 50


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def key_of(request: Request) -> str:
    path = request.path.removeprefix(PREFIX)
    params = [f"{name}={request.args[name]}" for name in ("tx_id", "offset") if name in request.args]
    return path + ("?" + "&".join(params) if params else "")


class RecordedChain:
    """A stand-in Stacks API answering from recorded responses; `add` more at any time."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.responses: dict[str, Any] = {}
        self.txs: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, list[dict[str, Any]]] = {}  # per contract, in chain order
        self.failing: Callable[[Request], int | None] = lambda request: None
        self.httpserver = httpserver
        httpserver.expect_request(re.compile(f"^{PREFIX}/")).respond_with_handler(self.answer)

    @property
    def url(self) -> str:
        return self.httpserver.url_for(PREFIX)

    def add(self, responses: dict[str, Any]) -> RecordedChain:
        self.responses.update(responses)
        return self

    def at(self, burn_height: int, stacks_height: int = 150_000, seconds_per_block: int = 600) -> RecordedChain:
        """The chain's tip: a status and the latest burn blocks, `seconds_per_block` apart."""
        burn_blocks = [
            {"burn_block_height": burn_height - i, "burn_block_time": 1_764_000_000 - i * seconds_per_block}
            for i in range(3)
        ]
        return self.add(
            {
                "/extended/v1/status": {
                    "server_version": "stacks-blockchain-api v8.0.0",
                    "status": "ready",
                    "chain_tip": {
                        "block_height": stacks_height,
                        "block_hash": f"0x{stacks_height:064x}",
                        "index_block_hash": f"0x{stacks_height + 1:064x}",
                        "burn_block_height": burn_height,
                    },
                },
                "/extended/v2/burn-blocks?offset=0": {"limit": 3, "offset": 0, "total": 3, "results": burn_blocks},
            }
        )

    def add_blocks(self, *blocks: dict[str, Any]) -> RecordedChain:
        """Hiro-shaped blocks (built with `decoded=False`) onto the chain the API serves."""
        for block in blocks:
            for tx, events in hiro.stacks_api_transactions(block):
                self.txs[tx["tx_id"]] = tx
                for event in events:
                    if event["event_type"] == "smart_contract_log":
                        self.logs.setdefault(event["contract_log"]["contract_id"], []).append(event)
        return self

    def add_recorded_block(self, recorded: dict[str, Any]) -> RecordedChain:
        """A recorded block (its transactions' pages and each transaction's events) onto the
        chain the API serves by transaction and by contract."""
        events: dict[str, list[dict[str, Any]]] = {}
        for key, body in recorded.items():
            if key.startswith("/extended/v1/tx/events?"):
                events.setdefault(key.split("tx_id=")[1].split("&")[0], []).extend(body["events"])
        for key, body in recorded.items():
            if "/transactions?" in key:
                for tx in body["results"]:
                    self.txs[tx["tx_id"]] = tx
                    for event in events.get(tx["tx_id"], []):
                        if event["event_type"] == "smart_contract_log":
                            self.logs.setdefault(event["contract_log"]["contract_id"], []).append(event)
        return self

    def contract_events(self, contract_id: str, request: Request) -> Response:
        limit = int(request.args.get("limit", EVENTS_LIMIT))
        if limit > EVENTS_MAX_LIMIT:
            error = {"error": f"'limit' must be equal to or less than {EVENTS_MAX_LIMIT}"}
            return Response(json.dumps(error), status=400, content_type="application/json")
        offset = int(request.args.get("offset", 0))

        def place(event: dict[str, Any]) -> tuple[int, int, int]:
            tx = self.txs[event["tx_id"]]
            return (tx["block_height"], tx["tx_index"], event["event_index"])

        newest_first = sorted(self.logs.get(contract_id, []), key=place, reverse=True)
        body = {"limit": limit, "offset": offset, "results": newest_first[offset : offset + limit]}
        return Response(json.dumps(body), content_type="application/json")

    def answer(self, request: Request) -> Response:
        path = request.path.removeprefix(PREFIX)
        status = self.failing(request)
        if status is not None:
            return Response(json.dumps({"error": "unavailable"}), status=status, content_type="application/json")
        if match := CONTRACT_EVENTS.match(path):
            return self.contract_events(match[1], request)
        if (match := TRANSACTION.match(path)) and match[1] in self.txs:
            return Response(json.dumps(self.txs[match[1]]), content_type="application/json")
        body = self.responses.get(key_of(request))
        if body is None:
            return Response(json.dumps({"error": "not found"}), status=404, content_type="application/json")
        if isinstance(body, int):  # a recorded failure status
            return Response(json.dumps({"error": "unavailable"}), status=body, content_type="application/json")
        return Response(json.dumps(body), content_type="application/json")

    def requests(self) -> list[str]:
        return [key_of(request) for request, _ in self.httpserver.log]
