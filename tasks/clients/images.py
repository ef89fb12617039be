"""Downloading an image to attach to a post: bounded in time, size and type, and from public
addresses only.

The image URL comes from a payload, so whoever may enqueue a post chooses where a worker sends
a GET. Unless the type's settings allow it, every request (redirects included) to a host that
resolves to a loopback, private, link-local or otherwise non-public address is refused before
it is sent: the cloud metadata service and the services on the worker's own network are not
reachable this way. A host whose DNS answer changes between this check and the connection
(DNS rebinding) is not covered; a deployment that needs that too routes workers' outbound
traffic through an egress proxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from jobqueue import PermanentError
from tasks.clients.http import TLS, check, transport_errors

SERVICE = "the image host"
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


async def refuse_non_public(request: httpx.Request) -> None:
    """An httpx request hook: PermanentError when the request's host resolves to an address that
    is not public. A name that does not resolve is left to the connection to report."""
    host = request.url.host
    port = request.url.port or (443 if request.url.scheme == "https" else 80)
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return
    for *_, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            raise PermanentError(
                f"the image host {host} resolves to a non-public address ({address}); images are fetched from "
                "public addresses only (the image_private_addresses setting of job type 'tweet' allows others)"
            )


async def download_image(
    url: str, *, timeout: float, max_bytes: int, private_addresses: bool = False
) -> tuple[bytes, str]:
    """The image's bytes and media type; refuses other types, anything larger than `max_bytes`,
    and (unless `private_addresses`) hosts that resolve to non-public addresses."""
    chunks: list[bytes] = []
    hooks = {} if private_addresses else {"request": [refuse_non_public]}
    with transport_errors(SERVICE, timeout):
        async with (
            httpx.AsyncClient(timeout=timeout, verify=TLS, follow_redirects=True, event_hooks=hooks) as client,
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
