"""The social posting API (X API v2 shape): create a post, optionally replying and with media; upload media.

Posting and media upload need user-context authentication: every request is signed with
OAuth 1.0a (`tasks/clients/oauth1.py`) for one posting identity, a DAO's `XAccount` or the
`tweet` type's default identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import pydantic

from jobqueue import PermanentError, RetryableError
from jobqueue.secrets.sealing import SentTo
from tasks.clients.http import asend, join, json_object
from tasks.clients.oauth1 import OAuth1, OAuth1Credentials

SERVICE = "the social API"


class SocialSettings(pydantic.BaseModel):
    social_api_url: str = "https://api.x.com/2"
    # The default posting identity (a DAO linked to an X account posts as that account).
    social_consumer_key: Annotated[pydantic.SecretStr, SentTo("social_api_url")] = pydantic.SecretStr("")
    social_consumer_secret: Annotated[pydantic.SecretStr, SentTo("social_api_url")] = pydantic.SecretStr("")
    social_access_token: Annotated[pydantic.SecretStr, SentTo("social_api_url")] = pydantic.SecretStr("")
    social_access_token_secret: Annotated[pydantic.SecretStr, SentTo("social_api_url")] = pydantic.SecretStr("")
    social_timeout_seconds: float = pydantic.Field(default=30.0, gt=0)


def default_identity(settings: SocialSettings) -> OAuth1Credentials:
    return OAuth1Credentials(
        settings.social_consumer_key.get_secret_value(),
        settings.social_consumer_secret.get_secret_value(),
        settings.social_access_token.get_secret_value(),
        settings.social_access_token_secret.get_secret_value(),
    )


@dataclass(frozen=True)
class SocialClient:
    base_url: str
    credentials: OAuth1Credentials
    timeout: float

    @classmethod
    def from_settings(
        cls, settings: SocialSettings, identity: OAuth1Credentials | None = None, identity_name: str = ""
    ) -> SocialClient:
        """A client posting as `identity` (a DAO's X account), else as the type's default identity."""
        if not settings.social_api_url:
            raise PermanentError("set the social_api_url setting of this job type")
        credentials = identity if identity is not None else default_identity(settings)
        if not credentials.complete:
            if identity is not None:
                raise PermanentError(f"X account {identity_name!r} lacks one of its four OAuth 1.0a credentials")
            raise PermanentError(
                "no posting identity: link the DAO to an X account, or set the social_consumer_key, "
                "social_consumer_secret, social_access_token and social_access_token_secret settings"
            )
        return cls(settings.social_api_url, credentials, settings.social_timeout_seconds)

    async def _post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await asend(
            SERVICE, "POST", join(self.base_url, path), timeout=self.timeout, auth=OAuth1(self.credentials), **kwargs
        )
        return json_object(response, SERVICE)

    async def upload_media(self, content: bytes, media_type: str) -> str:
        """Upload an image; return its media id."""
        return _id_of(
            await self._post(
                "media/upload", files={"media": ("image", content, media_type)}, data={"media_category": "tweet_image"}
            )
        )

    async def create_post(self, text: str, *, reply_to: str | None = None, media_id: str | None = None) -> str:
        """Publish one post; return its id."""
        body: dict[str, Any] = {"text": text}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        if media_id:
            body["media"] = {"media_ids": [media_id]}
        return _id_of(await self._post("tweets", json=body))


def _id_of(body: dict[str, Any]) -> str:
    data = body.get("data")
    if not isinstance(data, dict) or not data.get("id"):
        raise RetryableError(f"{SERVICE} answered without data.id")
    return str(data["id"])
