"""The blockchain read API (Stacks API shape): the chain tip, and a block by its height."""

from __future__ import annotations

from dataclasses import dataclass

import pydantic

from jobqueue import RetryableError
from tasks.clients.http import join, json_object, send

SERVICE = "the chain API"


class ChainApiSettings(pydantic.BaseModel):
    chain_api_url: str = ""
    chain_timeout_seconds: float = pydantic.Field(default=10.0, gt=0)


@dataclass(frozen=True)
class Block:
    height: int
    hash: str


@dataclass(frozen=True)
class ChainClient:
    base_url: str
    timeout: float

    def tip(self) -> Block:
        """The latest block the API knows."""
        body = json_object(
            send(SERVICE, "GET", join(self.base_url, "extended/v1/status"), timeout=self.timeout), SERVICE
        )
        tip = body.get("chain_tip")
        if not isinstance(tip, dict) or not isinstance(tip.get("block_height"), int):
            raise RetryableError(f"{SERVICE} answered a status without chain_tip.block_height")
        return Block(tip["block_height"], str(tip.get("block_hash", "")))

    def block(self, height: int) -> Block:
        body = json_object(
            send(SERVICE, "GET", join(self.base_url, f"extended/v2/blocks/{height}"), timeout=self.timeout), SERVICE
        )
        if body.get("height") != height or not body.get("hash"):
            raise RetryableError(f"{SERVICE} answered block {body.get('height')!r} for height {height}")
        return Block(height, str(body["hash"]))
