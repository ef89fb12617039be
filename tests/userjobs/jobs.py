"""Job types as a user of the queue writes them: a payload model that accepts keys it does not
name, and a function with a free-form mapping and a value of any type. The published schema must
state what the server refuses in them (NUL in keys and values), so schemathesis agrees with it."""

from __future__ import annotations

from typing import Any

import pydantic

from jobqueue import BaseJob, JobContext, JobResult, job


class OpenPayload(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")

    title: str = ""


@job(name="user_open_payload", max_attempts=1)
class UserOpenPayload(BaseJob):
    """Keep whatever keys the caller sends."""

    Payload = OpenPayload

    def execute(self, ctx: JobContext, payload: OpenPayload) -> JobResult:
        return JobResult.ok(data=payload.model_dump())


@job(name="user_free_form", max_attempts=1)
def user_free_form(ctx: JobContext, attributes: dict[str, Any] | None = None, anything: Any = None) -> None:
    """Take a mapping and a value of any JSON type."""
