"""One job type's history over 24 h or 7 d, from the rollup: per hour, succeeded and failed
attempts, duration p50 / p95 (from the hour's histogram) and jobs waiting (estimated).

Whole hours come from MetricHour (168 rows for a week), rolled minutes of a partial hour from
MetricMinute, and the minutes not rolled yet from the history itself (a few minutes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from jobqueue import rollup
from jobqueue.metrics import FAILED_OUTCOMES, TypeMetrics, window_delta, window_metrics
from jobqueue.models import HISTOGRAM_BINS, Job, JobType, MetricHour, MetricMinute, Outcome

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


@dataclass(frozen=True)
class History:
    job_type: str
    window: str
    since: datetime
    now: datetime
    metrics: TypeMetrics | None
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


def history(record: JobType, window: str = "24h", now: datetime | None = None) -> History:
    """The type's counts and percentiles over the window (as the dashboard computes them) and its
    hourly series."""
    now = now or timezone.now()
    since = now - window_delta(window)
    _, types, _ = window_metrics(since, now)  # also rolls up the newly closed minutes
    origin = rollup.floor_hour(since)
    points = [Point(origin + i * STEP) for i in range(math.ceil((now - origin) / STEP))]
    bins: list[list[int]] = [[0] * HISTOGRAM_BINS for _ in points]
    exact: list[list[float]] = [[] for _ in points]

    def index(moment: datetime) -> int:
        return min(len(points) - 1, max(0, int((moment - origin) / STEP)))

    rolled = rollup.rolled_until() or origin
    rolled = max(origin, min(rolled, rollup.floor_minute(now)))
    whole_hours = rollup.floor_hour(rolled)
    sources = [
        (MetricHour.objects.filter(job_type=record, hour__gte=origin, hour__lt=whole_hours), "hour"),
        (MetricMinute.objects.filter(Q(job_type=record, minute__gte=whole_hours, minute__lt=rolled)), "minute"),
    ]
    fields = ["succeeded", "failed", "timed_out", "crashed", "skipped", "cancelled", "retried", "enqueued"]
    for queryset, column in sources:
        for row in queryset.values(column, *fields, *rollup.DURATION_BINS):
            i = index(row[column])
            point = points[i]
            point.succeeded += row["succeeded"]
            point.failed += row["failed"] + row["timed_out"] + row["crashed"]
            point.enqueued += row["enqueued"]
            started = sum(row[f] for f in ("succeeded", "failed", "timed_out", "crashed", "skipped", "cancelled"))
            point.first_attempts += started - row["retried"]
            for b, name in enumerate(rollup.DURATION_BINS):
                bins[i][b] += row[name]
    for row in rollup.attempt_rows(job__job_type=record, finished_at__gte=rolled, finished_at__lte=now):
        i = index(row.finished_at)
        if row.outcome == Outcome.SUCCEEDED:
            points[i].succeeded += 1
        elif row.outcome in FAILED_OUTCOMES:
            points[i].failed += 1
        points[i].first_attempts += 1 if row.number == 1 else 0
        if row.duration_ms is not None:
            exact[i].append(float(row.duration_ms))
    for created in Job.objects.filter(job_type=record, created_at__gte=rolled, created_at__lte=now).values_list(
        "created_at", flat=True
    ):
        points[index(created)].enqueued += 1
    for i, point in enumerate(points):
        point.p50, point.p95 = _percentiles(bins[i], exact[i])
    waiting_now = Job.objects.waiting().filter(job_type=record).count()
    # Walk back from now: before an hour, the queue held what it holds after it, less the jobs
    # enqueued in it, plus the jobs whose first attempt started in it (an estimate: it ignores
    # jobs cancelled while waiting).
    level = waiting_now
    for point in reversed(points):
        point.waiting = max(level, 0)
        level -= point.enqueued - point.first_attempts
    metrics = next((t for t in types if t.name == record.name), None)
    return History(record.name, window, since, now, metrics, points, waiting_now)
