"""The edges of workflows: which job waits for which (`Dependency`)."""

from __future__ import annotations

from django.db import models

from jobqueue.models.core import Job


class Dependency(models.Model):
    """`job` waits (status `blocked`) until `on` has succeeded. If `on` ends dead, cancelled or
    skipped, `job` is cancelled, naming it, unless `ignore_failure` (then it runs anyway)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="dependencies")
    on = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="dependents", db_index=False)
    ignore_failure = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["on", "job"], name="jq_dependency_once")]
        # A dependent's edges newest first: whether any of a chord's dependencies is still to
        # end is asked at every commit that records one of them, and its leaves end in about
        # the order they were made, so the unfinished ones are found among the newest edges
        # (dependencies.resolve). MariaDB / MySQL and SQLite append the primary key to the
        # foreign key's own index; PostgreSQL needs it spelled out.
        indexes = [models.Index(fields=["job", "-id"], name="jq_dependency_newest")]

    def __str__(self) -> str:
        return f"{self.job_id} after {self.on_id}"
