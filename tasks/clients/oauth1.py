"""OAuth 1.0a user-context signing for httpx, by Authlib (`authlib.oauth1.ClientAuth`).

Authlib's own httpx integration (`authlib.integrations.httpx_client.OAuth1Auth`) now targets
httpx2 and warns (a deprecation) when it falls back to httpx, which this project uses; this
adapter hands the request to the same Authlib signer that integration wraps, nothing more.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import httpx
from authlib.oauth1 import ClientAuth


@dataclass(frozen=True)
class OAuth1Credentials:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    @property
    def complete(self) -> bool:
        return all((self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret))


class OAuth1(httpx.Auth):
    """Signs each request with HMAC-SHA1 in the Authorization header (RFC 5849)."""

    requires_request_body = True  # a form body's parameters are part of the signature

    def __init__(self, credentials: OAuth1Credentials) -> None:
        self._signer = ClientAuth(
            credentials.consumer_key,
            client_secret=credentials.consumer_secret,
            token=credentials.access_token,
            token_secret=credentials.access_token_secret,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # httpx.Headers is case-insensitive, as Authlib's Content-Type lookup needs.
        _, headers, _ = self._signer.prepare(request.method, str(request.url), request.headers.copy(), request.content)
        request.headers["Authorization"] = headers["Authorization"]
        yield request
