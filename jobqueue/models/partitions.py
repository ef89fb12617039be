"""Whose turn it is among a partitioned type's partition values (`PartitionTurn`)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import models
from django.db.models import Q

from jobqueue.models.core import JobType

# `served_at` of a value that has not been served since it last had work: before any real
# claim, so such a value comes first in the turn order.
NEVER_SERVED = datetime(2000, 1, 1, tzinfo=UTC)


class PartitionTurn(models.Model):
    """A partition value of a partitioned type that may have waiting work, and when it last
    had a job claimed. The claim reads the values in turn order (served longest ago first;
    never served: first of all, `NEVER_SERVED`) and probes only their heads
    (`jobqueue.engine.claim`). Every enqueue of a partitioned job upserts its value's row in
    the job's transaction and adds one to `fills`; a claim that finds a value without any
    waiting, running or blocked job sets `served_at` to NULL (no turn) unless `fills` moved
    meanwhile. Rows without a turn are pruned by retention."""

    job_type = models.ForeignKey(JobType, on_delete=models.CASCADE, related_name="+")
    partition_key = models.CharField(max_length=255)
    served_at = models.DateTimeField(null=True, blank=True)
    fills = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job_type", "partition_key"], name="jq_partition_turn_once")]
        indexes = [
            # The turn order, over the values that have a turn (MariaDB: over every row; an
            # `IS NOT NULL` range skips the others there).
            models.Index(
                fields=["served_at", "id"], name="jq_partition_turn_order", condition=Q(served_at__isnull=False)
            )
        ]

    def __str__(self) -> str:
        return f"{self.job_type_id}:{self.partition_key}@{self.served_at}"
