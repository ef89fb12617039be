"""The transaction service: an HTTP endpoint that signs and broadcasts contract calls.

Our one boundary for DAO deployment, votes, conclusions and agent account deployment. A call
carries an idempotency key, so a retried job never broadcasts the same call twice. Its
contract is published in docs/transaction-service.openapi.json (reference implementation:
signer/); every answer is validated against it (`ServiceReceipt`, kept equal to the
contract's `Receipt` by tests/tasks/test_transaction_contract.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import pydantic

from jobqueue import PermanentError, RetryableError
from jobqueue.secrets.sealing import SentTo
from tasks.clients.http import asend, bearer, join, json_object

SERVICE = "the transaction service"
BROADCAST = {"broadcast", "success"}  # statuses that mean the transaction reached the chain
CONFIRMED = "success"
FAILED = {"failed", "rejected", "abort_by_response", "abort_by_post_condition"}
STATUSES = Literal[
    "queued",
    "pending",
    "broadcast",
    "success",
    "failed",
    "rejected",
    "abort_by_response",
    "abort_by_post_condition",
    "dropped_replace_by_fee",
    "dropped_replace_across_fork",
    "dropped_too_expensive",
    "dropped_stale_garbage",
    "dropped_problematic",
]
_CONTRACT = r"^S[PMTN][0-9A-HJKMNP-TV-Z]{38,40}\.[a-zA-Z][a-zA-Z0-9_-]{0,127}$"


class ServiceReceipt(pydantic.BaseModel):
    """The `Receipt` of the published contract."""

    txid: str | None = pydantic.Field(default=None, min_length=1, max_length=100)
    status: STATUSES
    reason: str | None = None
    nonce: int | None = pydantic.Field(default=None, ge=0)
    fee: int | None = pydantic.Field(default=None, ge=0)
    contract_id: str | None = pydantic.Field(default=None, pattern=_CONTRACT)
    function_name: str | None = None
    # Set when this transaction replaced a stuck one (same nonce, higher fee): follow txid now.
    replaced_txid: str | None = pydantic.Field(default=None, min_length=1, max_length=100)


class TransactionSettings(pydantic.BaseModel):
    tx_service_url: str = ""
    tx_service_key: Annotated[pydantic.SecretStr, SentTo("tx_service_url")] = pydantic.SecretStr("")
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

    async def call(self, action: str, arguments: dict[str, Any], *, idempotency_key: str) -> Receipt:
        """Ask the service to sign and broadcast one contract call."""
        headers = {**bearer(self.key), "Idempotency-Key": idempotency_key}
        response = await asend(
            SERVICE,
            "POST",
            join(self.base_url, "contract-calls"),
            timeout=self.timeout,
            headers=headers,
            json={"action": action, "arguments": arguments},
        )
        return _receipt(json_object(response, SERVICE))

    async def status(self, tx_id: str) -> Receipt:
        response = await asend(
            SERVICE, "GET", join(self.base_url, f"transactions/{tx_id}"), timeout=self.timeout, headers=bearer(self.key)
        )
        return _receipt(json_object(response, SERVICE))


def _receipt(body: dict[str, Any]) -> Receipt:
    try:
        answer = ServiceReceipt.model_validate(body)
    except pydantic.ValidationError as exc:
        where = ", ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3])
        raise RetryableError(f"{SERVICE} answered outside its contract ({where})") from None
    if not answer.txid and answer.status not in FAILED:
        raise RetryableError(f"{SERVICE} answered status {answer.status!r} without a txid")
    details = answer.model_dump(mode="json", exclude={"txid", "status", "reason"}, exclude_none=True)
    return Receipt(answer.txid or "", answer.status, answer.reason or "", details)
