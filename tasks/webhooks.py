"""Job types that call out to webhooks."""

from __future__ import annotations

from typing import Any

import httpx
import pydantic

from jobqueue import BaseJob, JobContext, JobResult, PermanentError, Priority, RetryableError, job


@job(priority=Priority.MEDIUM, max_attempts=5, timeout=60, enabled=False)
class Discord(BaseJob):
    """Post a message to a Discord channel through its webhook."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        content: str = pydantic.Field(min_length=1, max_length=2000)
        tts: bool = False
        webhook_url: pydantic.HttpUrl | None = None

    class Settings(pydantic.BaseModel):
        webhook_url: pydantic.SecretStr = pydantic.SecretStr("")
        timeout_seconds: float = 10.0

    def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        url = str(payload.webhook_url) if payload.webhook_url else ctx.settings.webhook_url.get_secret_value()
        if not url:
            raise PermanentError("no webhook URL: set the webhook_url setting of job type 'discord'")
        body: dict[str, Any] = {"content": payload.content, "tts": payload.tts}
        try:
            response = httpx.post(url, json=body, timeout=ctx.settings.timeout_seconds)
        except httpx.TransportError as exc:
            raise RetryableError(f"webhook unreachable: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            after = response.headers.get("Retry-After")
            raise RetryableError(f"webhook answered {response.status_code}", after=float(after) if after else None)
        if response.status_code >= 400:
            raise PermanentError(f"webhook refused the message: {response.status_code} {response.text[:300]}")
        return JobResult.ok("posted", status=response.status_code)
