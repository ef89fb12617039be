"""Downloading an image to attach to a post: bounded in time, size and type, and from public
addresses only.

The image URL comes from a payload, so whoever may enqueue a post chooses where a worker sends
a GET. Unless the type's settings allow it, every request (redirects included) to a host that
resolves to a loopback, private, link-local or otherwise non-public address, or that does not
resolve, is refused before it is sent, and the connection goes to the very address that was
checked (`tasks.clients.egress.PinnedTransport`): the cloud metadata service and the services
on the worker's own network are not reachable this way, DNS rebinding included.
"""

from __future__ import annotations

import httpx

from jobqueue import PermanentError
from tasks.clients.egress import EVERYWHERE, PinnedTransport
from tasks.clients.http import TLS, check, transport_errors

SERVICE = "the image host"
PRIVATE_HINT = "images are fetched from public addresses only (the image_private_addresses setting of job type 'tweet' allows others)"
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


async def download_image(
    url: str, *, timeout: float, max_bytes: int, private_addresses: bool = False
) -> tuple[bytes, str]:
    """The image's bytes and media type; refuses other types, anything larger than `max_bytes`,
    and (unless `private_addresses`) hosts that resolve to non-public addresses."""
    chunks: list[bytes] = []
    # The URL is the payload's: the operator's allow-list for their own services does not apply.
    transport = PinnedTransport(verify=TLS, allowed=EVERYWHERE if private_addresses else (), hint=PRIVATE_HINT)
    with transport_errors(SERVICE, timeout):
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=True, transport=transport) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                await response.aread()
                check(response, SERVICE)
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if media_type not in IMAGE_TYPES:
                raise PermanentError(f"the image is {media_type or 'of no type'}; png, jpeg, gif or webp is needed")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise PermanentError(f"the image is {declared} bytes; at most {max_bytes} are allowed")
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise PermanentError(f"the image is larger than {max_bytes} bytes")
                chunks.append(chunk)
    return b"".join(chunks), media_type
