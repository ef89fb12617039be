"""`TransactionJob`: the base of job types that act through the transaction service."""

from __future__ import annotations

from typing import Any, ClassVar

import pydantic

from jobqueue import BaseJob, JobContext
from tasks.clients.transactions import TransactionClient, TransactionSettings

# By name: tx_confirmation applies transactions through tasks/pipeline.py, which enqueues
# the transaction jobs (a new proposal's conclusion); a class reference here would be a cycle.
TX_CONFIRMATION = "tx_confirmation"


class TransactionJob(BaseJob):
    """Carries the transaction service's settings and refuses to start until they are usable."""

    Settings: ClassVar[type[pydantic.BaseModel] | None] = TransactionSettings

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        TransactionClient.from_settings(ctx.settings)

    def follow(self, ctx: JobContext, tx_id: str, kind: str, object_id: int) -> None:
        """Have tx_confirmation follow a broadcast transaction, committed with this job's success."""
        payload: dict[str, Any] = {"tx_id": tx_id, "kind": kind, "object_id": object_id}
        ctx.enqueue(TX_CONFIRMATION, payload, unique_key=f"{kind}:{object_id}:{tx_id}")
