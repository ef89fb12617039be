"""Downloading an image to attach to a post: bounded in time, size and type."""

from __future__ import annotations

import httpx

from jobqueue import PermanentError
from tasks.clients.http import TLS, check, transport_errors

SERVICE = "the image host"
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


async def download_image(url: str, *, timeout: float, max_bytes: int) -> tuple[bytes, str]:
    """The image's bytes and media type; refuses other types and anything larger than `max_bytes`."""
    chunks: list[bytes] = []
    with transport_errors(SERVICE, timeout):
        async with (
            httpx.AsyncClient(timeout=timeout, verify=TLS, follow_redirects=True) as client,
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
