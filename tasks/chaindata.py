"""One shape for a block and its transactions, whether read from the Stacks API or delivered by Chainhook.

Only what the DAO pipeline reads is kept: per transaction its id, final status, kind,
target contract and function, sender, and its `print` events (contract and serialised
value). A chainhook block becomes a job payload in this shape, so it stays small.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import pydantic

SUCCESS = "success"
PENDING = "pending"
FINAL_FAILURES = ("abort_", "dropped_")

TxKind = Literal["contract_call", "smart_contract", "other"]


def is_failure(status: str) -> bool:
    return status.startswith(FINAL_FAILURES)


class PrintEvent(pydantic.BaseModel):
    """A print: its consensus serialisation (`hex`), or, from a chainhook with
    `decode_clarity_values: true`, Chainhook's JSON rendering of it kept as JSON text
    (`decoded`), since a decoded string may hold a NUL that a JSON column refuses."""

    model_config = pydantic.ConfigDict(extra="forbid")

    contract_id: str = pydantic.Field(max_length=200)
    hex: str = pydantic.Field(default="", pattern=r"^(0x)?[0-9a-fA-F]*$", max_length=200_000)
    decoded: str | None = pydantic.Field(default=None, max_length=400_000)

    def value(self) -> Any:
        """The print's value for `tasks.aibtc.notifications` (hex, or the decoded JSON)."""
        if self.decoded is not None:
            return json.loads(self.decoded)
        return self.hex if self.hex.startswith("0x") else "0x" + self.hex


class ChainTx(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    tx_id: str = pydantic.Field(min_length=1, max_length=100)
    status: str = pydantic.Field(max_length=40)
    kind: TxKind = "other"
    contract_id: str = pydantic.Field(default="", max_length=200)
    function: str = pydantic.Field(default="", max_length=128)
    sender: str = pydantic.Field(default="", max_length=200)
    prints: list[PrintEvent] = pydantic.Field(default_factory=list)


class ChainBlock(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    height: int = pydantic.Field(ge=0)
    hash: str = pydantic.Field(min_length=1, max_length=100)
    burn_height: int | None = pydantic.Field(default=None, ge=0)
    burn_time: int | None = pydantic.Field(default=None, ge=0, description="unix seconds")
    txs: list[ChainTx] = pydantic.Field(default_factory=list)


def print_of_api_event(event: dict[str, Any]) -> PrintEvent | None:
    """A Stacks API event (`/extended/v1/tx/...` shape) as a print event, if it is one."""
    if event.get("event_type") != "smart_contract_log":
        return None
    log = event.get("contract_log") or {}
    value = log.get("value") or {}
    if log.get("topic") != "print" or not isinstance(value.get("hex"), str):
        return None
    return PrintEvent(contract_id=str(log.get("contract_id", "")), hex=value["hex"])


def tx_of_api(tx: dict[str, Any], events: list[dict[str, Any]] | None = None) -> ChainTx:
    """A Stacks API transaction (`Transaction` of the API's schema) in our shape."""
    kind: TxKind = "other"
    contract_id = function = ""
    if tx.get("tx_type") == "contract_call":
        kind = "contract_call"
        call = tx.get("contract_call") or {}
        contract_id, function = str(call.get("contract_id", "")), str(call.get("function_name", ""))
    elif tx.get("tx_type") == "smart_contract":
        kind = "smart_contract"
        contract_id = str((tx.get("smart_contract") or {}).get("contract_id", ""))
    prints = [p for p in map(print_of_api_event, events if events is not None else tx.get("events") or []) if p]
    return ChainTx(
        tx_id=str(tx["tx_id"]),
        status=str(tx.get("tx_status", "")),
        kind=kind,
        contract_id=contract_id,
        function=function,
        sender=str(tx.get("sender_address", "")),
        prints=prints,
    )
