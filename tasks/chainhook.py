"""The payload Hiro Chainhook POSTs for a Stacks predicate, as pydantic models, and its blocks in our shape.

Only the fields the pipeline reads are required; everything else a delivery carries
(operations, execution costs, signer data, ...) is accepted and ignored, so that a newer
Chainhook adding fields is still understood.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pydantic

from tasks.chaindata import SUCCESS, ChainBlock, ChainTx, PrintEvent, TxKind

HEX = re.compile(r"^0x[0-9a-fA-F]*$")
FAILED = "abort_by_response"  # Chainhook says only `success: false`; the API's name for it


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")


class BlockIdentifier(_Model):
    index: int = pydantic.Field(ge=0)
    hash: str = pydantic.Field(min_length=1, max_length=100)


class TransactionIdentifier(_Model):
    hash: str = pydantic.Field(min_length=1, max_length=100)


class TxKindModel(_Model):
    type: str = pydantic.Field(max_length=40)
    data: dict[str, Any] | None = None


class TxEvent(_Model):
    type: str = pydantic.Field(max_length=40)
    data: dict[str, Any] = pydantic.Field(default_factory=dict)


class Receipt(_Model):
    events: list[TxEvent] = pydantic.Field(default_factory=list)


class TxMetadata(_Model):
    success: bool
    kind: TxKindModel
    receipt: Receipt
    sender: str = pydantic.Field(default="", max_length=200)


class Transaction(_Model):
    transaction_identifier: TransactionIdentifier
    metadata: TxMetadata


class BlockMetadata(_Model):
    bitcoin_anchor_block_identifier: BlockIdentifier | None = None


class Block(_Model):
    block_identifier: BlockIdentifier
    parent_block_identifier: BlockIdentifier | None = None
    timestamp: int | None = None
    transactions: list[Transaction] = pydantic.Field(max_length=10_000)
    metadata: BlockMetadata | None = None


class ChainhookInfo(_Model):
    uuid: str = pydantic.Field(min_length=1, max_length=100)


class Delivery(_Model):
    """One POST of a chainhook: blocks to roll back (newest first), then blocks to apply."""

    apply: list[Block] = pydantic.Field(max_length=1000)
    rollback: list[Block] = pydantic.Field(max_length=1000)
    chainhook: ChainhookInfo


def print_event(data: dict[str, Any]) -> PrintEvent:
    """A print in either delivery shape: `raw_value` (hex) when the chainhook has
    `decode_clarity_values: false`, `value` (Chainhook's JSON of the value) when true."""
    contract = str(data.get("contract_identifier", ""))
    raw = data.get("raw_value")
    if isinstance(raw, str) and HEX.match(raw):
        return PrintEvent(contract_id=contract, hex=raw)
    return PrintEvent(contract_id=contract, decoded=json.dumps(data.get("value", raw)))


def _tx(tx: Transaction) -> ChainTx | None:
    kind_type, data = tx.metadata.kind.type, tx.metadata.kind.data or {}
    kinds: dict[str, TxKind] = {"ContractCall": "contract_call", "ContractDeployment": "smart_contract"}
    kind = kinds.get(kind_type)
    if kind is None:
        return None
    prints = [
        print_event(event.data)
        for event in tx.metadata.receipt.events
        if event.type == "SmartContractEvent" and event.data.get("topic") == "print"
    ]
    return ChainTx(
        tx_id=tx.transaction_identifier.hash,
        status=SUCCESS if tx.metadata.success else FAILED,
        kind=kind,
        contract_id=str(data.get("contract_identifier", "")),
        function=str(data.get("method", "")) if kind == "contract_call" else "",
        sender=tx.metadata.sender,
        prints=prints,
    )


def chain_block(block: Block) -> ChainBlock:
    """A delivered block in our shape (contract calls and deployments only)."""
    anchor = block.metadata.bitcoin_anchor_block_identifier if block.metadata else None
    return ChainBlock(
        height=block.block_identifier.index,
        hash=block.block_identifier.hash,
        burn_height=anchor.index if anchor else None,
        txs=[tx for tx in map(_tx, block.transactions) if tx is not None],
    )
