"""Discord webhooks: post a message with optional embeds."""

from __future__ import annotations

from typing import Any

from tasks.clients.http import asend

SERVICE = "the Discord webhook"


async def post_message(url: str, body: dict[str, Any], *, timeout: float) -> int:
    """Post one message; return the HTTP status (Discord answers 204 without ?wait=true)."""
    return (await asend(SERVICE, "POST", url, timeout=timeout, json=body)).status_code
