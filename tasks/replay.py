"""Reading the chain back from the Stacks API: every print event of our contracts since each
contract's cursor, as blocks in chain order.

The API lists a contract's print events newest first (`GET extended/v1/contract/{id}/events`)
and names only their transaction, so each event's block (height, hash, burn height) and place
in it come from its transaction (`GET extended/v1/tx/{tx_id}`, read once per transaction). The
events of every known contract up to one tip are gathered into `ChainBlock`s, the shape a
chainhook delivers, so both are applied by the same code (`tasks.pipeline`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jobqueue import RetryableError
from tasks.chaindata import ChainBlock, tx_of_api
from tasks.clients.chain import ChainClient
from tasks.models import ContractCursor

log = logging.getLogger(__name__)

Place = tuple[int, int, int]  # (block height, transaction index, event index): the chain's order


@dataclass(frozen=True)
class Moved:
    """Where a contract's cursor goes once a block is applied: its newest event in that block."""

    place: Place
    tx_id: str


@dataclass
class Replay:
    """The new events of our contracts up to `up_to`, as blocks in chain order."""

    up_to: int
    blocks: list[ChainBlock] = field(default_factory=list)
    # Per block height, the cursor of each contract that printed in it.
    moves: dict[int, dict[str, Moved]] = field(default_factory=dict)
    events: int = 0
    # Events of our contracts listed without a print's hex value: logged and counted, never applied.
    not_understood: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Event:
    contract: str
    place: Place
    raw: dict[str, Any]


async def read_new(
    client: ChainClient, contracts: Iterable[str], cursors: dict[str, ContractCursor], up_to: int
) -> Replay:
    """The print events of `contracts` after their cursors and at or below block `up_to` (events
    of later blocks are left for the next replay: they may still be arriving in the API)."""
    txs: dict[str, dict[str, Any]] = {}
    found: dict[tuple[str, int], _Event] = {}
    unread: list[str] = []
    for contract in sorted(contracts):
        cursor = cursors.get(contract)
        async for event in client.contract_log(contract):
            tx_id, index = event.get("tx_id"), event.get("event_index")
            if not isinstance(tx_id, str) or not tx_id or not isinstance(index, int):
                raise RetryableError(f"the chain API listed an event of {contract} without tx_id and event_index")
            if cursor is not None and (tx_id, index) == (cursor.tx_id, cursor.event_index):
                break
            if tx_id not in txs:
                txs[tx_id] = await client.placed_transaction(tx_id)
            place = (txs[tx_id]["block_height"], txs[tx_id]["tx_index"], index)
            # The cursor's own event may be gone (a fork dropped its block): stop at anything older.
            if cursor is not None and place <= cursor.place:
                break
            if place[0] > up_to:
                continue
            log_entry = event.get("contract_log") or {}
            if log_entry.get("topic") != "print" or not isinstance((log_entry.get("value") or {}).get("hex"), str):
                log.warning("transaction %s: an event of %s is not a print with a hex value", tx_id, contract)
                unread.append(f"{tx_id}: {contract}: event {index} is not a print with a hex value")
            found[(tx_id, index)] = _Event(contract, place, event)
    replay = _as_blocks(found.values(), txs, up_to)
    replay.not_understood = unread
    return replay


def _as_blocks(events: Iterable[_Event], txs: dict[str, dict[str, Any]], up_to: int) -> Replay:
    by_tx: dict[str, list[_Event]] = defaultdict(list)
    for event in events:
        by_tx[str(event.raw["tx_id"])].append(event)
    by_height: dict[int, list[str]] = defaultdict(list)
    for tx_id in by_tx:
        by_height[txs[tx_id]["block_height"]].append(tx_id)
    replay = Replay(up_to)
    for height in sorted(by_height):
        tx_ids = sorted(by_height[height], key=lambda tx_id: txs[tx_id]["tx_index"])
        first = txs[tx_ids[0]]
        chain_txs = []
        moves: dict[str, Moved] = {}
        for tx_id in tx_ids:
            printed = sorted(by_tx[tx_id], key=lambda e: e.place)
            chain_txs.append(tx_of_api(txs[tx_id], [e.raw for e in printed]))
            for event in printed:
                moves[event.contract] = Moved(event.place, tx_id)
            replay.events += len(printed)
        burn, time = first.get("burn_block_height"), first.get("burn_block_time")
        replay.blocks.append(
            ChainBlock(
                height=height,
                hash=str(first.get("block_hash") or ""),
                burn_height=burn if isinstance(burn, int) else None,
                burn_time=time if isinstance(time, int) else None,
                txs=chain_txs,
            )
        )
        replay.moves[height] = moves
    return replay
