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

    def __str__(self) -> str:
        return f"{self.job_id} after {self.on_id}"
