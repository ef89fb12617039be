"""`TransactionJob`: the base of job types that act through the transaction service."""

from __future__ import annotations

from typing import ClassVar

import pydantic

from jobqueue import BaseJob, JobContext
from tasks.clients.transactions import TransactionClient, TransactionSettings


class TransactionJob(BaseJob):
    """Carries the transaction service's settings and refuses to start until they are usable."""

    Settings: ClassVar[type[pydantic.BaseModel] | None] = TransactionSettings

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        TransactionClient.from_settings(ctx.settings)
