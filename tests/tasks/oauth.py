"""Checking, as X would, the OAuth 1.0a signature a request arrived with (Authlib's server-side verifier)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from unittest import mock

from authlib.oauth1.rfc5849.signature import verify_hmac_sha1
from authlib.oauth1.rfc5849.wrapper import OAuth1Request
from werkzeug import Request

DEFAULT_IDENTITY = {
    "social_consumer_key": "default-consumer-key",
    "social_consumer_secret": "default-consumer-secret",
    "social_access_token": "1-default-access-token",
    "social_access_token_secret": "default-access-token-secret",
}


@dataclass(frozen=True)
class Identity:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    def get_client_secret(self) -> str:
        return self.consumer_secret

    def get_oauth_token_secret(self) -> str:
        return self.access_token_secret


DEFAULT = Identity(*DEFAULT_IDENTITY.values())


def signed_by(request: Request, identity: Identity) -> bool:
    """True if `request` carries a valid HMAC-SHA1 signature of `identity` (keys and secrets)."""
    form = request.mimetype == "application/x-www-form-urlencoded"
    # The local server speaks plain http; X itself refuses OAuth 1.0a without https.
    with mock.patch.dict(os.environ, {"AUTHLIB_INSECURE_TRANSPORT": "1"}):
        oauth = OAuth1Request(
            request.method,
            request.url,
            body=request.get_data(as_text=True) if form else None,
            headers=dict(request.headers),
        )
    if (oauth.client_id, oauth.token) != (identity.consumer_key, identity.access_token):
        return False
    oauth.client = identity
    oauth.credential = identity
    return bool(verify_hmac_sha1(oauth))
