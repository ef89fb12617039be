"""The metrics' tables: per-minute and per-hour buckets of the history, monotonic totals, the rollup's watermark."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from jobqueue.models.core import JobType

# Durations and queue waits are counted in log-scale bins, HISTOGRAM_BINS of them, whose edges are
# powers of sqrt(2) in milliseconds (jobqueue.observability.rollup.bin_of); the last bin is open-ended.
HISTOGRAM_BINS = 48


class MetricBucket(models.Model):
    """What happened in one bucket of time for one job type, aggregated from the history.

    Counts by attempt outcome are keyed on the attempt's `finished_at`, `enqueued` on the job's
    `created_at`, `jobs_cancelled` on a cancelled job's `finished_at`, `dead_lettered` on the dead
    letter's `created_at`. `dNN` / `wNN` are the duration / queue-wait histograms.
    """

    job_type = models.ForeignKey(JobType, on_delete=models.CASCADE, related_name="+")
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    timed_out = models.PositiveIntegerField(default=0)
    crashed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0, help_text="attempts that ended cancelled")
    skipped = models.PositiveIntegerField(default=0)
    retried = models.PositiveIntegerField(default=0, help_text="attempts after the first of their job")
    dead_lettered = models.PositiveIntegerField(default=0)
    enqueued = models.PositiveIntegerField(default=0)
    jobs_cancelled = models.PositiveIntegerField(default=0, help_text="jobs cancelled (with or without an attempt)")
    duration_total_ms = models.PositiveBigIntegerField(default=0)
    duration_max_ms = models.PositiveBigIntegerField(null=True, blank=True)
    wait_total_ms = models.PositiveBigIntegerField(default=0)
    wait_max_ms = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        abstract = True


class MetricMinute(MetricBucket):
    """One minute of one job type: what the metrics read for a window's closed minutes."""

    minute = models.DateTimeField(help_text="start of the minute (UTC, seconds zero)")

    class Meta:
        ordering = ["minute", "job_type"]
        constraints = [models.UniqueConstraint(fields=["minute", "job_type"], name="jq_metric_minute")]

    def __str__(self) -> str:
        return f"{self.job_type_id}@{self.minute:%Y-%m-%d %H:%M}"


class MetricHour(MetricBucket):
    """The sum of an hour's MetricMinute rows of one job type, so that a week reads 168 rows a type."""

    hour = models.DateTimeField(help_text="start of the hour (UTC)")

    class Meta:
        ordering = ["hour", "job_type"]
        constraints = [models.UniqueConstraint(fields=["hour", "job_type"], name="jq_metric_hour")]

    def __str__(self) -> str:
        return f"{self.job_type_id}@{self.hour:%Y-%m-%d %H:00}"


class MetricTotal(MetricBucket):
    """Everything rolled up so far for one job type: the Prometheus counters and histograms.

    Added to by the rollup in the same transaction that moves its watermark, and never taken
    from: pruning the history (or the minutes) leaves these totals as they are, so a counter
    never goes down. `duration_max_ms` / `wait_max_ms` are unused here.
    """

    job_type = models.OneToOneField(JobType, on_delete=models.CASCADE, related_name="+")
    # Totals outgrow 32 bits where a minute's counts do not.
    succeeded = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)
    timed_out = models.PositiveBigIntegerField(default=0)
    crashed = models.PositiveBigIntegerField(default=0)
    cancelled = models.PositiveBigIntegerField(default=0)
    skipped = models.PositiveBigIntegerField(default=0)
    retried = models.PositiveBigIntegerField(default=0)
    dead_lettered = models.PositiveBigIntegerField(default=0)
    enqueued = models.PositiveBigIntegerField(default=0)
    jobs_cancelled = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"totals of {self.job_type_id}"


# One integer column per histogram bin, so that a window's histogram is a SUM in SQL.
for _model, _field in (
    (MetricMinute, models.PositiveIntegerField),
    (MetricHour, models.PositiveIntegerField),
    (MetricTotal, models.PositiveBigIntegerField),
):
    for _bin in range(HISTOGRAM_BINS):
        _model.add_to_class(f"d{_bin:02}", _field(default=0))
        _model.add_to_class(f"w{_bin:02}", _field(default=0))


class MetricRollup(models.Model):
    """The rollup's watermark (one row): every minute before `rolled_until` is in MetricMinute, and
    every hour that ends by then in MetricHour.

    Rolling locks this row, so two processes rolling at once take turns instead of counting twice.
    """

    rolled_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"rolled up until {self.rolled_until}"
