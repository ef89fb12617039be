"""Hiro Chainhook deliveries built from Clarity values, in either decode mode.

The shape follows chainhook-sdk's Stacks payload (`serialize_stacks_payload_to_json`,
`serialize_stacks_transaction`, `serialized_event_with_decoded_clarity_value`): a print event's
data is `{contract_identifier, topic, raw_value: "0x<consensus serialisation>"}` when the
chainhook has `decode_clarity_values: false`, and `{contract_identifier, topic, value: <JSON>}`
when true, where the JSON renders a uint or int as a number, a buffer as `"0x<hex>"`, a
principal or string as a string, `none` as null, `some` as its value, a response as
`{"result": {"success", "value"}}`, a tuple as an object, a list as an array. The values (blocks,
addresses, amounts) are ours; only the format is Hiro's.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tasks.clarity import Ascii, Err, Int, Ok, Principal, Some, UInt, Utf8, c32_address, encode

TESTNET = 26  # the version byte of ST addresses


def address(seed: str) -> str:
    """A valid testnet address of our own, derived from `seed`."""
    return c32_address(TESTNET, hashlib.sha256(seed.encode()).digest()[:20])


def tx_hash(seed: str) -> str:
    return "0x" + hashlib.sha256(seed.encode()).hexdigest()


def decoded_json(value: Any) -> Any:
    """Chainhook's JSON rendering of a Clarity value (`serialize_to_json`)."""
    if isinstance(value, (UInt, Int)):
        return value.value
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (Principal, Ascii, Utf8)):
        return value.value
    if isinstance(value, Some):
        return decoded_json(value.value)
    if isinstance(value, (Ok, Err)):
        return {"result": {"success": isinstance(value, Ok), "value": decoded_json(value.value)}}
    if isinstance(value, dict):
        return {key: decoded_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decoded_json(item) for item in value]
    return value  # bool, None


def print_event(contract: str, value: Any, index: int, *, decoded: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"contract_identifier": contract, "topic": "print"}
    if decoded:
        data["value"] = decoded_json(value)
    else:
        data["raw_value"] = "0x" + encode(value).hex()
    return {"type": "SmartContractEvent", "data": data, "position": {"index": index}}


def ft_transfer(asset: str, amount: int, sender: str, recipient: str, index: int) -> dict[str, Any]:
    data = {"amount": str(amount), "asset_identifier": asset, "sender": sender, "recipient": recipient}
    return {"type": "FTTransferEvent", "data": data, "position": {"index": index}}


def contract_call(
    seed: str,
    *,
    sender: str,
    contract: str,
    method: str,
    args: list[str],
    events: list[dict[str, Any]],
    success: bool = True,
    position: int = 0,
) -> dict[str, Any]:
    """A contract-call transaction as Chainhook delivers it; `args` in Clarity's printed form."""
    return {
        "transaction_identifier": {"hash": tx_hash(seed)},
        "operations": [],
        "metadata": {
            "success": success,
            "raw_tx": "0x8080000000",
            "result": "(ok true)" if success else "(err u1312)",
            "sender": sender,
            "sponsor": None,
            "nonce": position + 1,
            "fee": 3000,
            "kind": {"type": "ContractCall", "data": {"contract_identifier": contract, "method": method, "args": args}},
            "receipt": {
                "mutated_contracts_radius": [contract],
                "mutated_assets_radius": [],
                "contract_calls_stack": [],
                "events": events,
            },
            "description": f"invoked: {contract}::{method}({', '.join(args)})",
            "execution_cost": {
                "read_count": 50,
                "read_length": 70_000,
                "runtime": 350_000,
                "write_count": 6,
                "write_length": 900,
            },
            "position": {"index": position},
        },
    }


def block(height: int, burn_height: int, transactions: list[dict[str, Any]]) -> dict[str, Any]:
    """A Nakamoto-era Stacks block as Chainhook delivers it."""
    return {
        "block_identifier": {"index": height, "hash": tx_hash(f"block {height}")},
        "parent_block_identifier": {"index": height - 1, "hash": tx_hash(f"block {height - 1}")},
        "timestamp": 1_764_000_000 + height,
        "transactions": transactions,
        "metadata": {
            "bitcoin_anchor_block_identifier": {"index": burn_height, "hash": tx_hash(f"burn {burn_height}")},
            "block_time": 1_764_000_000 + height,
            "confirm_microblock_identifier": None,
            "cycle_number": None,
            "pox_cycle_index": 4650,
            "pox_cycle_length": 20,
            "pox_cycle_position": 3,
            "reward_set": None,
            "signer_bitvec": "013700000027ffffffffffffffffffffffffffffff7f",
            "signer_public_keys": [],
            "signer_signature": [],
            "stacks_block_hash": tx_hash(f"stacks block {height}"),
            "tenure_height": 90_100,
        },
    }


def delivery(
    apply: list[dict[str, Any]], rollback: list[dict[str, Any]] | None = None, *, watched: str, uuid: str = "hook"
) -> dict[str, Any]:
    """A POST body; `watched` is the contract of the chainhook's print-event predicate."""
    return {
        "apply": apply,
        "rollback": rollback or [],
        "events": [],
        "chainhook": {
            "uuid": f"00000000-0000-4000-8000-{hashlib.sha256(uuid.encode()).hexdigest()[:12]}",
            "predicate": {"scope": "print_event", "contract_identifier": watched, "contains": "action-proposal"},
            "is_streaming_blocks": True,
        },
    }


def contract_deployment(seed: str, *, sender: str, contract: str, code: str, position: int = 0) -> dict[str, Any]:
    """A contract deployment as Chainhook delivers it: the source in `kind.data.code` and again,
    hex-encoded, inside `raw_tx`."""
    tx = contract_call(seed, sender=sender, contract=contract, method="", args=[], events=[], position=position)
    tx["metadata"]["kind"] = {"type": "ContractDeployment", "data": {"contract_identifier": contract, "code": code}}
    tx["metadata"]["raw_tx"] = "0x80800000000400" + code.encode().hex()
    tx["metadata"]["description"] = f"deployed: {contract}"
    return tx


def stacks_api_transactions(block: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The block's transactions as the Stacks API serves them (`Transaction` of its schema, as
    `GET extended/v1/tx/{tx_id}` answers), each with its events in the API's `TransactionEvent`
    shape, from a block built with `decoded=False`."""
    height = block["block_identifier"]["index"]
    burn = block["metadata"]["bitcoin_anchor_block_identifier"]["index"]
    found = []
    for tx in block["transactions"]:
        md, tx_id = tx["metadata"], tx["transaction_identifier"]["hash"]
        call = md["kind"]["data"]
        # An aborted transaction's events are rolled back with it: the API lists none.
        events = [_api_event(tx_id, event) for event in md["receipt"]["events"]] if md["success"] else []
        api_tx = {
            "tx_id": tx_id,
            "nonce": md["nonce"],
            "fee_rate": str(md["fee"]),
            "sender_address": md["sender"],
            "sponsored": False,
            "post_condition_mode": "deny",
            "post_conditions": [],
            "anchor_mode": "any",
            "block_hash": block["block_identifier"]["hash"],
            "block_height": height,
            "block_time": block["timestamp"],
            "burn_block_time": block["timestamp"],
            "burn_block_height": burn,
            "canonical": True,
            "tx_index": md["position"]["index"],
            "tx_status": "success" if md["success"] else "abort_by_response",
            "tx_result": {"hex": "0x0703", "repr": md["result"]},
            "event_count": len(events),
            "events": events,
            "tx_type": "contract_call",
            "contract_call": {
                "contract_id": call["contract_identifier"],
                "function_name": call["method"],
                "function_args": [{"repr": arg} for arg in call["args"]],
            },
        }
        found.append((api_tx, events))
    return found


def _api_event(tx_id: str, event: dict[str, Any]) -> dict[str, Any]:
    index, data = event["position"]["index"], event["data"]
    if event["type"] == "SmartContractEvent":
        log = {
            "contract_id": data["contract_identifier"],
            "topic": data["topic"],
            "value": {"hex": data["raw_value"], "repr": "(tuple ...)"},
        }
        return {"event_index": index, "event_type": "smart_contract_log", "tx_id": tx_id, "contract_log": log}
    asset = {
        "asset_event_type": "transfer",
        "asset_id": data["asset_identifier"],
        "sender": data["sender"],
        "recipient": data["recipient"],
        "amount": data["amount"],
    }
    return {"event_index": index, "event_type": "fungible_token_asset", "tx_id": tx_id, "asset": asset}
