"""Posting to the social network: `tweet` (a thread, resumable) and `dao_deployment_tweet` (a launch post)."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable
from typing import Any

import pydantic

from jobqueue import BaseJob, JobContext, JobResult, PermanentError, Priority, RetryableError, job
from tasks.clients.images import download_image
from tasks.clients.llm import LLMClient, LLMSettings
from tasks.clients.oauth1 import OAuth1Credentials
from tasks.clients.social import SocialClient, SocialSettings
from tasks.fields import RecordId
from tasks.models import DAO, ThreadPost

POST_MAX_CHARS = 280
_TOKENS = re.compile(r"\S+|\s+")


@functools.cache
def _parse_tweet() -> Callable[[str], Any]:
    """twitter-text's parser, imported when a post is first measured, not with the job types:
    it and the pkg_resources it reads its emoji table through cost some 18 MiB of RSS, which
    every process of a cluster carried (its workers fork after job discovery) for nothing
    until a worker posted (docs/performance.md, "Memory")."""
    with warnings.catch_warnings():
        # twitter-text-parser reads its emoji table through pkg_resources (setuptools < 81, pinned
        # in pyproject.toml), which warns on import that it is deprecated; nothing for us to act on.
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        from twitter_text import parse_tweet
    return parse_tweet  # type: ignore[no-any-return]


def weighted_length(text: str) -> int:
    """A post's length as X counts it (twitter-text: a link is 23, CJK and emoji count 2)."""
    return int(_parse_tweet()(text).weightedLength)


def split_post(text: str, limit: int = POST_MAX_CHARS) -> list[str]:
    """Split text into posts of at most `limit` by X's weighted length, at word boundaries.

    Whitespace inside a post is kept (line breaks survive); a word longer than a whole post
    is cut (by characters, each cut checked by weight)."""
    posts: list[str] = []
    current, space = "", ""
    for token in _TOKENS.findall(text.strip()):
        if token.isspace():
            space = token
            continue
        if current and weighted_length(current + space + token) <= limit:
            current += space + token
            continue
        if current:
            posts.append(current)
        while weighted_length(token) > limit:
            cut = limit
            while cut > 1 and weighted_length(token[:cut]) > limit:
                cut -= 1
            posts.append(token[:cut])
            token = token[cut:]
        current = token
    if current:
        posts.append(current)
    return posts


@job(priority=Priority.HIGH, max_attempts=5, timeout=180, concurrency=2, partition_concurrency=1, enabled=False)
class Tweet(BaseJob):
    """Post a text (and an optional image) as a thread of posts of at most 280 characters."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        text: str = pydantic.Field(min_length=1, max_length=25_000, pattern=r"\S")
        dao_id: RecordId | None = None
        reply_to: str | None = pydantic.Field(default=None, pattern=r"^[0-9]{1,19}$")
        image_url: pydantic.HttpUrl | None = None

    class Settings(SocialSettings):
        image_timeout_seconds: float = pydantic.Field(default=30.0, gt=0)
        image_max_bytes: int = pydantic.Field(default=5 * 1024 * 1024, gt=0)
        # Off: a payload's image URL may not point a worker at its own network (see clients/images.py).
        image_private_addresses: bool = False

    def partition_key(self, payload: Payload) -> str:
        """The X account the thread is posted as: its limits per value (`partition_rate_limit`,
        set to the account tier's posting limit; one thread at a time) are per account, and
        DAOs sharing an account share them. "" is the type's default identity."""
        if payload.dao_id is None:
            return ""
        account = DAO.objects.filter(pk=payload.dao_id).values_list("x_account_id", flat=True).first()
        return "" if account is None else f"x-account:{account}"

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        if not ctx.settings.social_api_url:
            raise PermanentError("set the social_api_url setting of job type 'tweet'")

    def check_prerequisites(self, ctx: JobContext, payload: Payload) -> None:
        if payload.dao_id is not None and not DAO.objects.filter(pk=payload.dao_id).exists():
            raise PermanentError(f"DAO {payload.dao_id} does not exist")

    async def client(self, ctx: JobContext, dao_id: int | None) -> SocialClient:
        """Posting as the DAO's own X account when it has one, else as the type's default identity."""
        dao = await DAO.objects.select_related("x_account").filter(pk=dao_id).afirst() if dao_id is not None else None
        account = dao.x_account if dao is not None else None
        if account is None:
            return SocialClient.from_settings(ctx.settings)
        identity = OAuth1Credentials(
            account.consumer_key, account.consumer_secret, account.access_token, account.access_token_secret
        )
        return SocialClient.from_settings(ctx.settings, identity, account.name)

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        client = await self.client(ctx, payload.dao_id)
        posts = split_post(payload.text)
        # Posts a previous attempt of this job already published: continue after them.
        done = {
            position: post_id
            async for position, post_id in ThreadPost.objects.filter(job_id=ctx.job_id).values_list(
                "position", "post_id"
            )
        }
        if done:
            ctx.log.info("resuming the thread after %s of %s posts", len(done), len(posts))
        media_id = None
        if payload.image_url is not None and 0 not in done:
            content, media_type = await download_image(
                str(payload.image_url),
                timeout=ctx.settings.image_timeout_seconds,
                max_bytes=ctx.settings.image_max_bytes,
                private_addresses=ctx.settings.image_private_addresses,
            )
            media_id = await client.upload_media(content, media_type)
        previous = payload.reply_to
        ids: list[str] = []
        for position, text in enumerate(posts):
            if position in done:
                previous = done[position]
            else:
                first = position == 0
                previous = await client.create_post(text, reply_to=previous, media_id=media_id if first else None)
                # Committed at once (the worker runs in autocommit): a failure further on
                # leaves this post recorded, and the retry starts after it.
                await ThreadPost.objects.acreate(job_id=ctx.job_id, position=position, post_id=previous)
            ids.append(previous)
            await ctx.aprogress((position + 1) / len(posts), f"{position + 1} of {len(posts)} posts")
        return JobResult.ok(f"posted a thread of {len(posts)}", data={"post_ids": ids}, posts=len(posts))


@job(priority=Priority.MEDIUM, max_attempts=3, timeout=120, concurrency=2, enabled=False, requires=(Tweet,))
class DaoDeploymentTweet(BaseJob):
    """Ask the chat model for a launch post of a deployed DAO, and enqueue a `tweet` job with it."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        dao_id: RecordId

    class Settings(LLMSettings):
        not_deployed_retry_seconds: float = pydantic.Field(default=120.0, gt=0)

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        LLMClient.from_settings(ctx.settings)

    def check_prerequisites(self, ctx: JobContext, payload: Payload) -> None:
        dao = DAO.objects.filter(pk=payload.dao_id).first()
        if dao is None:
            raise PermanentError(f"DAO {payload.dao_id} does not exist")
        if not dao.is_deployed or not dao.token_contract:
            if dao.is_broadcast:
                raise RetryableError(
                    f"DAO {dao.pk} is not confirmed on the chain yet", after=ctx.settings.not_deployed_retry_seconds
                )
            raise PermanentError(f"DAO {dao.pk} has no deployed token: deploy it first (dao_deployment)")

    async def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
        dao = await DAO.objects.aget(pk=payload.dao_id)
        client = LLMClient.from_settings(ctx.settings)
        text = await client.chat(
            ctx.settings.chat_model,
            "You write launch announcements for DAOs. Answer with the post text only, at most 280 characters.",
            f"DAO: {dao.name}\nMission: {dao.mission}\nToken: {dao.token_name} (${dao.token_symbol})\n"
            f"Token contract: {dao.token_contract}\nWrite the launch post.",
        )
        # By the registered definition, not a name: a renamed type fails at import, not in production.
        ctx.enqueue(Tweet, {"text": text[:25_000], "dao_id": dao.pk})
        return JobResult.ok("launch post written", data={"text": text})
