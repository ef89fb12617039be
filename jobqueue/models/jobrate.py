"""The job-rate budgets of users (`JobRateCount`): jobs created per fixed window, one row each."""

from __future__ import annotations

from django.db import models


class JobRateCount(models.Model):
    """How many jobs `subject` (a user, or a client address) created in the fixed window of
    `period` seconds that starts at `window_start`. One row per subject and period, moved on to
    the next window by the same conditional UPDATE that counts (services.jobrate), so the table
    holds one row per client, not one per window."""

    subject = models.CharField(max_length=100)
    period = models.PositiveIntegerField()
    window_start = models.BigIntegerField(help_text="the window's first second (Unix time)")
    spent = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "period"], name="jq_jobrate_one_row")]

    def __str__(self) -> str:
        return f"{self.subject}: {self.spent} jobs in the {self.period} s from {self.window_start}"
