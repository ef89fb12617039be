"""The Stacks API (Hiro's shape), awaited on the job's event loop: the chain tip, blocks, their
transactions with paging, one transaction, a transaction's print events, and the average time
between burn blocks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic

from jobqueue import RetryableError
from tasks.chaindata import ChainBlock, ChainTx, tx_of_api
from tasks.clients.http import asend, join, json_object

SERVICE = "the chain API"
PAGE = 50  # the API's largest page of transactions and of events
MAX_PAGES = 200  # 10,000 items: far more than a block holds; a bound against a looping API


class ChainApiSettings(pydantic.BaseModel):
    chain_api_url: str = ""
    chain_timeout_seconds: float = pydantic.Field(default=10.0, gt=0)


@dataclass(frozen=True)
class Block:
    height: int
    hash: str
    burn_height: int | None = None
    burn_time: int | None = None


@dataclass(frozen=True)
class ChainClient:
    base_url: str
    timeout: float

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await asend(SERVICE, "GET", join(self.base_url, path), timeout=self.timeout, params=params)
        return json_object(response, SERVICE)

    async def tip(self) -> Block:
        """The latest block the API knows, with the burn block it is anchored to."""
        tip = (await self._get("extended/v1/status")).get("chain_tip")
        if not isinstance(tip, dict) or not isinstance(tip.get("block_height"), int):
            raise RetryableError(f"{SERVICE} answered a status without chain_tip.block_height")
        burn = tip.get("burn_block_height")
        return Block(tip["block_height"], str(tip.get("block_hash", "")), burn if isinstance(burn, int) else None)

    async def block(self, height: int) -> Block:
        body = await self._get(f"extended/v2/blocks/{height}")
        if body.get("height") != height or not body.get("hash"):
            raise RetryableError(f"{SERVICE} answered block {body.get('height')!r} for height {height}")
        burn, time = body.get("burn_block_height"), body.get("burn_block_time")
        return Block(
            height, str(body["hash"]), burn if isinstance(burn, int) else None, time if isinstance(time, int) else None
        )

    async def _pages(self, path: str, key: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a paged list (`limit`/`offset`; `total` when the API gives one)."""
        items: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            body = await self._get(path, {**params, "limit": PAGE, "offset": len(items)})
            page = body.get(key)
            if not isinstance(page, list):
                raise RetryableError(f"{SERVICE} answered {path} without a {key} list")
            items.extend(item for item in page if isinstance(item, dict))
            total = body.get("total")
            if not page or (isinstance(total, int) and len(items) >= total) or (total is None and len(page) < PAGE):
                return items
        raise RetryableError(f"{SERVICE} kept paging {path} past {MAX_PAGES * PAGE} items")

    async def block_with_transactions(self, height: int, wanted: Callable[[str], bool]) -> ChainBlock:
        """The block and its contract calls and deployments; print events are read for the
        transactions whose target contract is `wanted` (the API lists none with the block).

        Not the contract-events endpoint: its events carry no block height, so finding one
        block's events there means paging back through the contract's whole history."""
        block = await self.block(height)
        txs = await self._pages(f"extended/v2/blocks/{height}/transactions", "results", {})
        chain_txs: list[ChainTx] = []
        for raw in txs:
            tx = tx_of_api(raw)
            if tx.kind == "other":
                continue
            if wanted(tx.contract_id) and tx.status == "success" and int(raw.get("event_count") or 0) > len(tx.prints):
                tx = tx_of_api(raw, await self.events(tx.tx_id))
            chain_txs.append(tx)
        return ChainBlock(
            height=block.height,
            hash=block.hash,
            burn_height=block.burn_height,
            burn_time=block.burn_time,
            txs=chain_txs,
        )

    async def events(self, tx_id: str) -> list[dict[str, Any]]:
        """A transaction's contract log (print) events, every page."""
        return await self._pages("extended/v1/tx/events", "events", {"tx_id": tx_id, "type": "smart_contract_log"})

    async def transaction(self, tx_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The transaction and its print events, or (None, []) while the API does not know it yet
        (a broadcast transaction takes a moment to reach the API's mempool)."""
        url = join(self.base_url, f"extended/v1/tx/{tx_id}")
        response = await asend(SERVICE, "GET", url, timeout=self.timeout, accept=(404,))
        if response.status_code == 404:
            return None, []
        tx = json_object(response, SERVICE)
        events = tx.get("events") if isinstance(tx.get("events"), list) else []
        if tx.get("tx_status") == "success" and int(tx.get("event_count") or 0) > len(events or []):
            events = await self.events(tx_id)
        return tx, list(events or [])

    async def seconds_per_burn_block(self, sample: int = 10) -> float | None:
        """The average time between the latest `sample` burn blocks, or None when too few are known."""
        body = await self._get("extended/v2/burn-blocks", {"limit": sample, "offset": 0})
        rows = [r for r in body.get("results") or [] if isinstance(r, dict)]
        points = sorted(
            (r["burn_block_height"], r["burn_block_time"])
            for r in rows
            if isinstance(r.get("burn_block_height"), int) and isinstance(r.get("burn_block_time"), int)
        )
        if len(points) < 2 or points[-1][0] == points[0][0]:
            return None
        return max(1.0, (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0]))
