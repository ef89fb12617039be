"""What every client shares: one request, and the mapping of HTTP answers to job errors.

429 and 5xx (and a service that cannot be reached) are retryable, carrying the service's
Retry-After; any other 4xx is permanent, with the service's own message. Error messages
name the service, never its URL or headers: URLs (Discord webhooks) and headers carry
credentials.
"""

from __future__ import annotations

import contextlib
import email.utils
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import certifi
import httpx

from jobqueue import PermanentError, RetryableError
from tasks.clients.egress import PinnedTransport

MESSAGE_MAX_CHARS = 200


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (it may be a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_message(response: httpx.Response) -> str:
    """The message a service put in its error body (JSON `detail`, `message`, `error`, ...,
    or the first line of a text/plain body), shortened and with control characters removed.
    Any other body (an HTML page, a binary) is not copied, only described: the message lands in the job's `last_error`, which every `view_job` user reads,
    and an arbitrary page (an internal service's, reached by a re-pointed URL) is not theirs to read."""
    try:
        body: Any = response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind == "text/plain":  # a one-line reason ("overloaded"), as many services send
            return _printable(response.text.strip().split("\n", 1)[0])[:MESSAGE_MAX_CHARS]
        return f"a {kind or 'untyped'} body of {len(response.content)} bytes, not copied"
    return _printable(_message_in(body))[:MESSAGE_MAX_CHARS]


def _printable(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _message_in(body: Any) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, list) and body:
        return _message_in(body[0])
    if isinstance(body, dict):
        for key in ("detail", "message", "error", "title", "errors"):
            if body.get(key):
                return _message_in(body[key])
    return "a JSON body without a message field"


def check(response: httpx.Response, service: str) -> httpx.Response:
    """Return a successful response; raise RetryableError or PermanentError for the others."""
    status = response.status_code
    if status < 400:
        return response
    message = error_message(response)
    if status == 429 or status >= 500:
        raise RetryableError(f"{service} answered {status}: {message}", after=retry_after(response))
    raise PermanentError(f"{service} refused the request ({status}): {message}")


# Built once per process: an httpx client made without one loads the CA bundle again, which
# costs milliseconds of CPU per client (async jobs each open their own client).
TLS = ssl.create_default_context(cafile=certifi.where())


@contextlib.contextmanager
def transport_errors(service: str, timeout: float) -> Iterator[None]:
    """Transport failures (no answer in time, unreachable) as retryable errors."""
    try:
        yield
    except httpx.TimeoutException:
        raise RetryableError(f"{service} did not answer within {timeout:g} s") from None
    except httpx.TransportError as exc:
        raise RetryableError(f"{service} unreachable: {type(exc).__name__}") from None


async def asend(
    service: str,
    method: str,
    url: str,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | None = None,
    accept: tuple[int, ...] = (),
    **kwargs: Any,
) -> httpx.Response:
    """One request with a timeout, awaited on the job's event loop; transport failures become
    retryable errors, and so do error answers (see `check`) except the statuses in `accept`,
    which the caller reads itself."""
    with transport_errors(service, timeout):
        # Operator-set URLs go through the same address policy as the image download.
        async with httpx.AsyncClient(timeout=timeout, transport=PinnedTransport(verify=TLS)) as client:
            response = await client.request(
                method, url, headers=headers, auth=auth or httpx.USE_CLIENT_DEFAULT, **kwargs
            )
    return response if response.status_code in accept else check(response, service)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def join(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def json_object(response: httpx.Response, service: str) -> dict[str, Any]:
    """The response body as a JSON object; a service answering something else is retryable."""
    try:
        body = response.json()
    except ValueError:
        raise RetryableError(f"{service} answered {response.status_code} without a JSON body") from None
    if not isinstance(body, dict):
        raise RetryableError(f"{service} answered a JSON {type(body).__name__}, not an object")
    return body
