"""One job type's history over 24 h or 7 d, from the rollup: its totals (attempts, failure rate,
duration p50 / p95, enqueued, dead-lettered) and per hour the succeeded and failed attempts, the
duration p50 / p95 (from the hour's histogram) and the jobs waiting (estimated).

Whole hours come from MetricHour (168 rows a week), the window's other rolled minutes from
MetricMinute, and the minutes not rolled yet from the history itself (a few minutes), all for
this type only. Percentiles over rolled rows are approximate as on the dashboard (docs/admin.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import HISTOGRAM_BINS, DeadLetter, Job, JobType, MetricHour, MetricMinute, Outcome
from jobqueue.observability import rollup
from jobqueue.observability.metrics import FAILED_OUTCOMES, window_delta

STEP = timedelta(hours=1)


@dataclass
class Point:
    start: datetime
    succeeded: int = 0
    failed: int = 0
    enqueued: int = 0
    first_attempts: int = 0
    waiting: int | None = None
    p50: float | None = None
    p95: float | None = None

    @property
    def failure_rate(self) -> float | None:
        done = self.succeeded + self.failed
        return None if done == 0 else self.failed / done


@dataclass
class Summary:
    """The window's totals for the type (the figures the dashboard shows for it)."""

    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    enqueued: int = 0
    dead_lettered: int = 0
    p50: float | None = None
    p95: float | None = None

    @property
    def attempts(self) -> int:
        return self.succeeded + self.failed + self.skipped

    @property
    def failure_rate(self) -> float | None:
        return None if self.attempts == 0 else self.failed / self.attempts


@dataclass(frozen=True)
class History:
    job_type: str
    window: str
    since: datetime
    now: datetime
    summary: Summary
    points: list[Point]
    waiting_now: int


def _percentiles(bins: list[int], exact: list[float]) -> tuple[float | None, float | None]:
    points = sorted([(v, 1) for v in exact] + [(rollup.bin_value(i), n) for i, n in enumerate(bins) if n])
    count = sum(n for _, n in points)
    if not count:
        return None, None

    def rank(p: float) -> float:
        wanted, seen = max(1, math.ceil(p / 100 * count)), 0
        for value, n in points:
            seen += n
            if seen >= wanted:
                return value
        return points[-1][0]

    return rank(50), rank(95)


def _minutes(start: datetime, end: datetime) -> list[datetime]:
    return [start + i * rollup.MINUTE for i in range(int((end - start) / rollup.MINUTE))]


def _sources(record: JobType, since: datetime, now: datetime) -> tuple[list[tuple[Any, str]], datetime]:
    """The rolled-up rows of the window (whole hours from MetricHour, the other rolled minutes from
    MetricMinute) and the moment from which the history must be read raw.

    The minutes outside whole hours (fewer than 120) are named one by one, so that each is a seek
    in the (minute, job_type) index: with a range, SQLite reads the type's every minute instead."""
    first, first_hour = rollup.ceil_minute(since), rollup.ceil_hour(since)
    rolled = rollup.rolled_until() or first
    rolled = max(first, min(rolled, rollup.floor_minute(now)))
    last_hour = rollup.floor_hour(rolled)
    minutes = MetricMinute.objects.filter(job_type=record)
    if last_hour <= first_hour:
        return [(minutes.filter(minute__in=_minutes(first, rolled)), "minute")], rolled
    ends = [*_minutes(first, first_hour), *_minutes(last_hour, rolled)]
    hours = MetricHour.objects.filter(job_type=record, hour__in=_minutes_hours(first_hour, last_hour))
    return [(hours, "hour"), (minutes.filter(minute__in=ends), "minute")], rolled


def _minutes_hours(start: datetime, end: datetime) -> list[datetime]:
    return [start + i * rollup.HOUR for i in range(int((end - start) / rollup.HOUR))]


def history(record: JobType, window: str = "24h", now: datetime | None = None) -> History:
    """The type's totals and hourly series over the window, from its own rolled-up rows."""
    now = now or timezone.now()
    since = now - window_delta(window)
    rollup.roll_up(now, max_minutes=jobqueue_settings.METRICS_ROLLUP_READ_MINUTES, wait=False)
    origin = rollup.floor_hour(since)
    points = [Point(origin + i * STEP) for i in range(math.ceil((now - origin) / STEP))]
    bins: list[list[int]] = [[0] * HISTOGRAM_BINS for _ in points]
    exact: list[list[float]] = [[] for _ in points]
    summary = Summary()

    def index(moment: datetime) -> int:
        return min(len(points) - 1, max(0, int((moment - origin) / STEP)))

    sources, rolled = _sources(record, since, now)
    fields = ["succeeded", "failed", "timed_out", "crashed", "skipped", "cancelled", "retried", "enqueued"]
    for queryset, column in sources:
        for row in queryset.values(column, "dead_lettered", *fields, *rollup.DURATION_BINS):
            i = index(row[column])
            point = points[i]
            failed = row["failed"] + row["timed_out"] + row["crashed"]
            point.succeeded += row["succeeded"]
            point.failed += failed
            point.enqueued += row["enqueued"]
            started = failed + row["succeeded"] + row["skipped"] + row["cancelled"]
            point.first_attempts += started - row["retried"]
            summary.skipped += row["skipped"]
            summary.dead_lettered += row["dead_lettered"]
            for b, name in enumerate(rollup.DURATION_BINS):
                bins[i][b] += row[name]
    for row in rollup.attempt_rows(job__job_type=record, finished_at__gte=rolled, finished_at__lte=now):
        i = index(row.finished_at)
        if row.outcome == Outcome.SUCCEEDED:
            points[i].succeeded += 1
        elif row.outcome in FAILED_OUTCOMES:
            points[i].failed += 1
        elif row.outcome == Outcome.SKIPPED:
            summary.skipped += 1
        points[i].first_attempts += 1 if row.number == 1 else 0
        if row.duration_ms is not None:
            exact[i].append(float(row.duration_ms))
    for created in Job.objects.filter(job_type=record, created_at__gte=rolled, created_at__lte=now).values_list(
        "created_at", flat=True
    ):
        points[index(created)].enqueued += 1
    summary.dead_lettered += DeadLetter.objects.filter(
        job_type=record, created_at__gte=rolled, created_at__lte=now
    ).count()
    for i, point in enumerate(points):
        point.p50, point.p95 = _percentiles(bins[i], exact[i])
        summary.succeeded += point.succeeded
        summary.failed += point.failed
        summary.enqueued += point.enqueued
    summary.p50, summary.p95 = _percentiles(
        [sum(column) for column in zip(*bins, strict=True)], [v for values in exact for v in values]
    )
    waiting_now = Job.objects.waiting().filter(job_type=record).count()
    # Walk back from now: before an hour, the queue held what it holds after it, less the jobs
    # enqueued in it, plus the jobs whose first attempt started in it (an estimate: it ignores
    # jobs cancelled while waiting).
    level = waiting_now
    for point in reversed(points):
        point.waiting = max(level, 0)
        level -= point.enqueued - point.first_attempts
    return History(record.name, window, since, now, summary, points, waiting_now)
