"""The social posting API (X API v2 shape): create a post, optionally replying and with media; upload media."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydantic

from jobqueue import PermanentError, RetryableError
from tasks.clients.http import bearer, join, json_object, send

SERVICE = "the social API"


class SocialSettings(pydantic.BaseModel):
    social_api_url: str = "https://api.x.com/2"
    social_bearer_token: pydantic.SecretStr = pydantic.SecretStr("")
    social_timeout_seconds: float = pydantic.Field(default=30.0, gt=0)


@dataclass(frozen=True)
class SocialClient:
    base_url: str
    token: str
    timeout: float

    @classmethod
    def from_settings(cls, settings: SocialSettings) -> SocialClient:
        if not settings.social_api_url or not settings.social_bearer_token.get_secret_value():
            raise PermanentError("set the social_api_url and social_bearer_token settings of this job type")
        return cls(
            settings.social_api_url, settings.social_bearer_token.get_secret_value(), settings.social_timeout_seconds
        )

    def upload_media(self, content: bytes, media_type: str) -> str:
        """Upload an image; return its media id."""
        response = send(
            SERVICE,
            "POST",
            join(self.base_url, "media/upload"),
            timeout=self.timeout,
            headers=bearer(self.token),
            files={"media": ("image", content, media_type)},
            data={"media_category": "tweet_image"},
        )
        return _id_of(json_object(response, SERVICE))

    def create_post(self, text: str, *, reply_to: str | None = None, media_id: str | None = None) -> str:
        """Publish one post; return its id."""
        body: dict[str, Any] = {"text": text}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        if media_id:
            body["media"] = {"media_ids": [media_id]}
        response = send(
            SERVICE, "POST", join(self.base_url, "tweets"), timeout=self.timeout, headers=bearer(self.token), json=body
        )
        return _id_of(json_object(response, SERVICE))


def _id_of(body: dict[str, Any]) -> str:
    data = body.get("data")
    if not isinstance(data, dict) or not data.get("id"):
        raise RetryableError(f"{SERVICE} answered without data.id")
    return str(data["id"])
