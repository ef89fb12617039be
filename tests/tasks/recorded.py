"""Serving recorded Stacks API responses (tests/tasks/fixtures/stacks_api/*.json) from the local server.

A fixture maps a request (path, plus the `tx_id` and `offset` query parameters when the API
pages) to the response the API documents for it; anything not recorded is a 404, as the API
answers for an unknown block or transaction.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FIXTURES = Path(__file__).parent / "fixtures"
PREFIX = "/chain"


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

    def answer(self, request: Request) -> Response:
        body = self.responses.get(key_of(request))
        if body is None:
            return Response(json.dumps({"error": "not found"}), status=404, content_type="application/json")
        if isinstance(body, int):  # a recorded failure status
            return Response(json.dumps({"error": "unavailable"}), status=body, content_type="application/json")
        return Response(json.dumps(body), content_type="application/json")

    def requests(self) -> list[str]:
        return [key_of(request) for request, _ in self.httpserver.log]
