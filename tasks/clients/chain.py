"""The Stacks API (Hiro's shape), awaited on the job's event loop: the chain tip, a
contract's print events with paging, one transaction, a transaction's print events, and the
average time between burn blocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pydantic

from jobqueue import RateLimited, RetryableError
from tasks.clients.http import asend, join, json_object, retry_after

SERVICE = "the chain API"
PAGE = 50  # the API's largest page of transactions and of a contract's events
MAX_PAGES = 200  # 10,000 items: far more than a block or one of our contracts holds; a bound against a looping API


class ChainApiSettings(pydantic.BaseModel):
    chain_api_url: str = ""
    chain_timeout_seconds: float = pydantic.Field(default=10.0, gt=0)
    # Hiro's API answers a few dozen unauthenticated requests a minute; a key raises that.
    chain_api_key: pydantic.SecretStr = pydantic.Field(
        default=pydantic.SecretStr(""), description="sent as the x-api-key header (Hiro API key)"
    )


@dataclass(frozen=True)
class Block:
    height: int
    hash: str
    burn_height: int | None = None


@dataclass(frozen=True)
class ChainClient:
    base_url: str
    timeout: float
    api_key: str = ""

    @classmethod
    def from_settings(cls, settings: ChainApiSettings) -> ChainClient:
        return cls(settings.chain_api_url, settings.chain_timeout_seconds, settings.chain_api_key.get_secret_value())

    async def _send(self, path: str, params: dict[str, Any] | None = None, accept: tuple[int, ...] = ()) -> Any:
        """One GET; 429 is the API's rate limit: the job waits (Retry-After, else a minute) without
        spending an attempt, instead of failing."""
        headers = {"x-api-key": self.api_key} if self.api_key else None
        response = await asend(
            SERVICE,
            "GET",
            join(self.base_url, path),
            timeout=self.timeout,
            params=params,
            headers=headers,
            accept=(429, *accept),
        )
        if response.status_code == 429:
            after = retry_after(response)
            hint = "" if self.api_key else " (set chain_api_key: Hiro allows few requests without a key)"
            raise RateLimited(f"{SERVICE} is rate limiting us (429){hint}", after=after if after is not None else 60.0)
        return response

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return json_object(await self._send(path, params), SERVICE)

    async def tip(self) -> Block:
        """The latest block the API knows, with the burn block it is anchored to."""
        tip = (await self._get("extended/v1/status")).get("chain_tip")
        if not isinstance(tip, dict) or not isinstance(tip.get("block_height"), int):
            raise RetryableError(f"{SERVICE} answered a status without chain_tip.block_height")
        burn = tip.get("burn_block_height")
        return Block(tip["block_height"], str(tip.get("block_hash", "")), burn if isinstance(burn, int) else None)

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

    async def contract_log(self, contract_id: str) -> AsyncIterator[dict[str, Any]]:
        """The contract's print events, newest first, page after page, as the API lists them
        (`GET extended/v1/contract/{contract_id}/events`: canonical events ordered by block, then
        transaction, then event, descending; `limit`/`offset`, no total). The caller stops when it
        reaches what it has read. New events shift the offsets while we page, so one may come
        twice; none is skipped."""
        path = f"extended/v1/contract/{contract_id}/events"
        for page_number in range(MAX_PAGES):
            body = await self._get(path, {"limit": PAGE, "offset": page_number * PAGE})
            page = body.get("results")
            if not isinstance(page, list):
                raise RetryableError(f"{SERVICE} answered {path} without a results list")
            for event in page:
                if isinstance(event, dict) and event.get("event_type") == "smart_contract_log":
                    yield event
            if len(page) < PAGE:
                return
        raise RetryableError(f"{SERVICE} kept paging {path} past {MAX_PAGES * PAGE} events")

    async def placed_transaction(self, tx_id: str) -> dict[str, Any]:
        """A transaction the API has in a block (`GET extended/v1/tx/{tx_id}`): where it is
        (`block_height`, `block_hash`, `burn_block_height`, `burn_block_time`, `tx_index`) and what
        it is (`tx_status`, `tx_type`, `contract_call`, `sender_address`)."""
        tx = await self._get(f"extended/v1/tx/{tx_id}")
        if not all(isinstance(tx.get(key), int) for key in ("block_height", "tx_index")) or not tx.get("block_hash"):
            raise RetryableError(
                f"{SERVICE} answered transaction {tx_id} without its block_height, block_hash, tx_index"
            )
        return tx

    async def events(self, tx_id: str) -> list[dict[str, Any]]:
        """A transaction's contract log (print) events, every page."""
        return await self._pages("extended/v1/tx/events", "events", {"tx_id": tx_id, "type": "smart_contract_log"})

    async def transaction(self, tx_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The transaction and its print events, or (None, []) while the API does not know it yet
        (a broadcast transaction takes a moment to reach the API's mempool)."""
        response = await self._send(f"extended/v1/tx/{tx_id}", accept=(404,))
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
