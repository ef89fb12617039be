"""Whose turn it is among a partitioned type's partition values (`PartitionTurn`)."""

from __future__ import annotations

from django.db import models

from jobqueue.models.core import JobType


class PartitionTurn(models.Model):
    """When a partition value of a partitioned type last had a job claimed. Among the values
    whose next job has the same turn, the claim serves the one served longest ago first (never
    served: first of all), so that taking turns goes round the values rather than back to the
    oldest backlog at each claim. Rows not served for a day are pruned by retention."""

    job_type = models.ForeignKey(JobType, on_delete=models.CASCADE, related_name="+")
    partition_key = models.CharField(max_length=255)
    served_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job_type", "partition_key"], name="jq_partition_turn_once")]
        indexes = [models.Index(fields=["served_at"], name="jq_partition_turn_served")]

    def __str__(self) -> str:
        return f"{self.job_type_id}:{self.partition_key}@{self.served_at}"
