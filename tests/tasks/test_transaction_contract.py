"""The transaction service's published contract (docs/transaction-service.openapi.json) and the client's
validation of every answer against it."""

from __future__ import annotations

import asyncio
import json
import typing
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from jobqueue import RetryableError
from tasks.clients.transactions import ServiceReceipt, TransactionClient

pytestmark = pytest.mark.database_independent

CONTRACT = json.loads((Path(__file__).parents[2] / "docs" / "transaction-service.openapi.json").read_text())
RECEIPT = CONTRACT["components"]["schemas"]["Receipt"]


def test_the_client_model_is_the_published_receipt() -> None:
    model = ServiceReceipt.model_json_schema()
    assert set(model["properties"]) == set(RECEIPT["properties"])
    assert set(model.get("required", [])) == set(RECEIPT["required"])
    statuses = typing.get_args(ServiceReceipt.model_fields["status"].annotation)
    assert list(statuses) == RECEIPT["properties"]["status"]["enum"]
    for example in RECEIPT["examples"]:
        ServiceReceipt.model_validate(example)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"txid": "0xab", "status": "done"}, "status"),
        ({"txid": "0xab", "status": "broadcast", "nonce": -1}, "nonce"),
        ({"txid": "0xab", "status": "broadcast", "contract_id": "not a contract"}, "contract_id"),
        ({"status": "broadcast"}, "without a txid"),
    ],
)
def test_an_answer_outside_the_contract_is_retryable(
    httpserver: HTTPServer, answer: dict[str, Any], problem: str
) -> None:
    httpserver.expect_request("/tx/contract-calls").respond_with_json(answer)
    client = TransactionClient(httpserver.url_for("/tx"), "key", 5.0)
    with pytest.raises(RetryableError, match=problem):
        asyncio.run(client.call("vote", {}, idempotency_key="vote:1"))
