"""Job types that call out to webhooks: `discord`."""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from jobqueue import BaseJob, JobContext, JobResult, PermanentError, Priority, job
from tasks.clients.discord import post_message

# Discord refuses a message whose embeds' texts total more than this.
EMBEDS_MAX_CHARS = 6000


class Embed(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    title: str | None = pydantic.Field(default=None, max_length=256)
    description: str | None = pydantic.Field(default=None, max_length=4096)
    url: pydantic.HttpUrl | None = None
    color: int | None = pydantic.Field(default=None, ge=0, le=0xFFFFFF)


@job(priority=Priority.MEDIUM, max_attempts=5, timeout=60, concurrency=2, enabled=False)
class Discord(BaseJob):
    """Post a message to a Discord channel through one of the webhooks of the type's settings,
    chosen by proposal status.

    A payload cannot name a webhook: a Discord webhook URL is a secret (whoever holds it can
    post), and a payload is stored and shown in clear; it would also let anyone who may enqueue
    this type make a worker POST to any address. The webhooks are settings, sealed at rest.
    """

    class Payload(pydantic.BaseModel):
        # The JSON Schema says what _something_to_post checks, so that API clients know it.
        model_config = pydantic.ConfigDict(
            extra="forbid",
            json_schema_extra={
                "anyOf": [
                    {"required": ["content"], "properties": {"content": {"pattern": r"\S"}}},
                    {"required": ["embeds"], "properties": {"embeds": {"minItems": 1}}},
                ]
            },
        )

        content: str = pydantic.Field(default="", max_length=2000)
        embeds: list[Embed] = pydantic.Field(default_factory=list, max_length=10)
        tts: bool = False
        proposal_status: Literal["passed", "failed"] | None = None

        @pydantic.model_validator(mode="after")
        def _something_to_post(self) -> Discord.Payload:
            if not self.content.strip() and not self.embeds:
                raise ValueError("give content or at least one embed")
            total = sum(len(embed.title or "") + len(embed.description or "") for embed in self.embeds)
            if total > EMBEDS_MAX_CHARS:
                raise ValueError(
                    f"the embeds' titles and descriptions total {total} characters; Discord allows {EMBEDS_MAX_CHARS}"
                )
            return self

    class Settings(pydantic.BaseModel):
        webhook_url: pydantic.SecretStr = pydantic.SecretStr("")
        passed_webhook_url: pydantic.SecretStr = pydantic.SecretStr("")
        failed_webhook_url: pydantic.SecretStr = pydantic.SecretStr("")
        timeout_seconds: float = pydantic.Field(default=10.0, gt=0)

    def webhook_for(self, ctx: JobContext, payload: Payload) -> str:
        """The webhook of the payload's proposal status, else the default one."""
        settings = ctx.settings
        by_status = {"passed": settings.passed_webhook_url, "failed": settings.failed_webhook_url}
        if payload.proposal_status and by_status[payload.proposal_status].get_secret_value():
            return str(by_status[payload.proposal_status].get_secret_value())
        url = str(settings.webhook_url.get_secret_value())
        if not url:
            wanted = f"{payload.proposal_status}_webhook_url or " if payload.proposal_status else ""
            raise PermanentError(f"no webhook URL: set the {wanted}webhook_url setting of job type 'discord'")
        return url

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        # Ping no one: a post can carry text anyone wrote (a proposal's memo), and an @everyone
        # or a role mention in it must not notify a whole server.
        body: dict[str, Any] = {"content": payload.content, "tts": payload.tts, "allowed_mentions": {"parse": []}}
        if payload.embeds:
            body["embeds"] = [embed.model_dump(mode="json", exclude_none=True) for embed in payload.embeds]
        status = await post_message(self.webhook_for(ctx, payload), body, timeout=ctx.settings.timeout_seconds)
        return JobResult.ok("posted", status=status)
