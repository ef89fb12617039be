"""The transaction service: an HTTP endpoint that signs and broadcasts contract calls.

Our one boundary for DAO deployment, votes, conclusions and agent account deployment. A call
carries an idempotency key, so a retried job never broadcasts the same call twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pydantic

from jobqueue import PermanentError, RetryableError
from tasks.clients.http import bearer, join, json_object, send

SERVICE = "the transaction service"
BROADCAST = {"broadcast", "success"}  # statuses that mean the transaction reached the chain
CONFIRMED = "success"
FAILED = {"failed", "rejected", "abort_by_response", "abort_by_post_condition"}


class TransactionSettings(pydantic.BaseModel):
    tx_service_url: str = ""
    tx_service_key: pydantic.SecretStr = pydantic.SecretStr("")
    tx_timeout_seconds: float = pydantic.Field(default=30.0, gt=0)


@dataclass(frozen=True)
class Receipt:
    tx_id: str
    status: str
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def broadcast(self) -> bool:
        return self.status in BROADCAST

    @property
    def failed(self) -> bool:
        return self.status in FAILED


@dataclass(frozen=True)
class TransactionClient:
    base_url: str
    key: str
    timeout: float

    @classmethod
    def from_settings(cls, settings: TransactionSettings) -> TransactionClient:
        if not settings.tx_service_url:
            raise PermanentError("set the tx_service_url setting of this job type")
        return cls(settings.tx_service_url, settings.tx_service_key.get_secret_value(), settings.tx_timeout_seconds)

    def call(self, action: str, arguments: dict[str, Any], *, idempotency_key: str) -> Receipt:
        """Ask the service to sign and broadcast one contract call."""
        headers = {**bearer(self.key), "Idempotency-Key": idempotency_key}
        response = send(
            SERVICE,
            "POST",
            join(self.base_url, "contract-calls"),
            timeout=self.timeout,
            headers=headers,
            json={"action": action, "arguments": arguments},
        )
        return _receipt(json_object(response, SERVICE))

    def status(self, tx_id: str) -> Receipt:
        response = send(
            SERVICE, "GET", join(self.base_url, f"transactions/{tx_id}"), timeout=self.timeout, headers=bearer(self.key)
        )
        return _receipt(json_object(response, SERVICE))


def _receipt(body: dict[str, Any]) -> Receipt:
    tx_id, status = body.get("txid"), body.get("status")
    if not isinstance(status, str):
        raise RetryableError(f"{SERVICE} answered without a status")
    if not tx_id and status not in FAILED:
        raise RetryableError(f"{SERVICE} answered status {status!r} without a txid")
    details = {k: v for k, v in body.items() if k not in ("txid", "status", "reason")}
    return Receipt(str(tx_id or ""), status, str(body.get("reason") or ""), details)
