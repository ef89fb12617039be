"""Downloading an image to attach to a post: bounded in time, size and type."""

from __future__ import annotations

import httpx

from jobqueue import PermanentError, RetryableError
from tasks.clients.http import check

SERVICE = "the image host"
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def download_image(url: str, *, timeout: float, max_bytes: int) -> tuple[bytes, str]:
    """The image's bytes and media type; refuses other types and anything larger than `max_bytes`."""
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            if response.status_code >= 400:
                response.read()
                check(response, SERVICE)
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if media_type not in IMAGE_TYPES:
                raise PermanentError(f"the image is {media_type or 'of no type'}; png, jpeg, gif or webp is needed")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise PermanentError(f"the image is {declared} bytes; at most {max_bytes} are allowed")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise PermanentError(f"the image is larger than {max_bytes} bytes")
                chunks.append(chunk)
    except httpx.TimeoutException:
        raise RetryableError(f"{SERVICE} did not send the image within {timeout:g} s") from None
    except httpx.TransportError as exc:
        raise RetryableError(f"{SERVICE} unreachable: {type(exc).__name__}") from None
    return b"".join(chunks), media_type
