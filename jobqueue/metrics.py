"""Metrics of the queue as dataclasses: counts, rates, percentiles, depth and clusters.

The admin, the API and the CLI read only this module. Every query is bounded by a time
window over an indexed column (`Attempt.finished_at`, `Job.created_at`, `Job.finished_at`)
or by a state with a partial index (ready, running), so the cost follows the window, not
the size of the history.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from jobqueue.conf import jobqueue_settings
from jobqueue.models import Attempt, ClusterHeartbeat, DeadLetter, Job, JobType, Outcome, Status

WINDOWS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
FAILED_OUTCOMES = (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.CRASHED)
# Throughput series keep about this many points whatever the window (one a minute up to 2 h).
MAX_POINTS = 120


def window_delta(window: str) -> timedelta:
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; use one of {', '.join(WINDOWS)}")
    return WINDOWS[window]


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted `values` (None when empty)."""
    if not values:
        return None
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[rank - 1]


@dataclass(frozen=True)
class Distribution:
    """Percentiles of a set of durations, in milliseconds."""

    count: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    mean: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> Distribution:
        ordered = sorted(values)
        if not ordered:
            return cls()
        return cls(
            count=len(ordered),
            p50=percentile(ordered, 50),
            p95=percentile(ordered, 95),
            p99=percentile(ordered, 99),
            max=ordered[-1],
            mean=sum(ordered) / len(ordered),
        )


@dataclass(frozen=True)
class Counts:
    """What happened in a window. `failed` counts failed, timed-out and crashed attempts;
    `retried` counts attempts after the first of their job."""

    enqueued: int = 0
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    cancelled: int = 0

    @property
    def attempts(self) -> int:
        """Finished attempts that ran to an outcome (succeeded, failed or skipped)."""
        return self.succeeded + self.failed + self.skipped

    @property
    def success_rate(self) -> float | None:
        done = self.succeeded + self.failed
        return None if done == 0 else self.succeeded / done

    @property
    def failure_rate(self) -> float | None:
        return None if self.attempts == 0 else self.failed / self.attempts

    @property
    def dead_letter_rate(self) -> float | None:
        finished = self.succeeded + self.dead_lettered + self.skipped
        return None if finished == 0 else self.dead_lettered / finished


@dataclass(frozen=True)
class TypeMetrics:
    """One job type's metrics over the window (the name is empty for the total)."""

    name: str
    counts: Counts
    duration: Distribution
    wait: Distribution


@dataclass(frozen=True)
class ThroughputPoint:
    start: datetime
    succeeded: int
    failed: int


@dataclass(frozen=True)
class Depth:
    job_type: str
    priority: int
    ready: int


@dataclass(frozen=True)
class Cluster:
    key: str
    host: str
    pid: int
    workers: int
    busy: int
    claimed: int
    started_at: datetime
    last_seen_at: datetime
    heartbeat_age: float
    state: str  # live, lost or stopped

    @property
    def live(self) -> bool:
        return self.state == "live"


@dataclass(frozen=True)
class Snapshot:
    """Everything the dashboard shows, measured at `now` over `window`."""

    window: str
    since: datetime
    now: datetime
    total: TypeMetrics
    types: list[TypeMetrics]
    throughput: list[ThroughputPoint]
    bucket_seconds: int
    depth: list[Depth]
    ready: int
    oldest_ready_age: float | None
    running: int
    dead_letters_unresolved: int
    clusters: list[Cluster] = field(default_factory=list)

    def type(self, name: str) -> TypeMetrics | None:
        return next((t for t in self.types if t.name == name), None)


@dataclass
class _Tally:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    durations: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)

    def metrics(self, name: str) -> TypeMetrics:
        counts = Counts(**{k: self.counts.get(k, 0) for k in Counts.__dataclass_fields__})
        return TypeMetrics(name, counts, Distribution.of(self.durations), Distribution.of(self.waits))


def bucket_seconds(window: timedelta) -> int:
    """Throughput bucket: a minute, or wider so that a long window keeps MAX_POINTS points."""
    return max(60, math.ceil(window.total_seconds() / MAX_POINTS / 60) * 60)


def window_metrics(
    since: datetime, now: datetime, step: int = 60
) -> tuple[TypeMetrics, list[TypeMetrics], list[ThroughputPoint]]:
    """Counts, durations and waits per type and in total, and the throughput series."""
    names = dict(JobType.objects.values_list("pk", "name"))
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    total = _Tally()
    origin = since.timestamp()
    buckets = math.ceil((now - since).total_seconds() / step)
    series = [[0, 0] for _ in range(max(buckets, 1))]

    def add(type_id: int, key: str, amount: int = 1) -> None:
        tallies[names.get(type_id, "?")].counts[key] += amount
        total.counts[key] += amount

    rows = Attempt.objects.filter(finished_at__gt=since, finished_at__lte=now).values_list(
        "job__job_type_id",
        "outcome",
        "number",
        "duration_ms",
        "started_at",
        "finished_at",
        "job__run_after",
        "job__attempts",
    )
    for type_id, outcome, number, duration_ms, started_at, finished_at, run_after, job_attempts in rows.iterator(
        chunk_size=5000
    ):
        tally = tallies[names.get(type_id, "?")]
        add(type_id, "started")
        if number > 1:
            add(type_id, "retried")
        index = min(int((finished_at.timestamp() - origin) // step), len(series) - 1)
        if outcome == Outcome.SUCCEEDED:
            add(type_id, "succeeded")
            series[index][0] += 1
        elif outcome in FAILED_OUTCOMES:
            add(type_id, "failed")
            series[index][1] += 1
        elif outcome == Outcome.SKIPPED:
            add(type_id, "skipped")
        if duration_ms is not None:
            tally.durations.append(duration_ms)
            total.durations.append(duration_ms)
        # The job's run_after is rewritten on retry, so it gives the wait of its latest attempt only.
        if started_at is not None and number == job_attempts and started_at >= run_after:
            wait_ms = (started_at - run_after).total_seconds() * 1000
            tally.waits.append(wait_ms)
            total.waits.append(wait_ms)

    for type_id, started in Job.objects.running().filter(started_at__gt=since).values_list("job_type_id", "started_at"):
        if started is not None:
            add(type_id, "started")
    for key, queryset in (
        ("enqueued", Job.objects.filter(created_at__gt=since, created_at__lte=now)),
        ("cancelled", Job.objects.filter(finished_at__gt=since, finished_at__lte=now, status=Status.CANCELLED)),
        ("dead_lettered", DeadLetter.objects.filter(created_at__gt=since, created_at__lte=now)),
    ):
        for type_id, count in queryset.values_list("job_type_id").annotate(n=Count("pk")).order_by():
            add(type_id, key, count)

    types = sorted((tally.metrics(name) for name, tally in tallies.items()), key=lambda m: m.name)
    points = [
        ThroughputPoint(since + timedelta(seconds=i * step), succeeded, failed)
        for i, (succeeded, failed) in enumerate(series)
    ]
    return total.metrics(""), types, points


def queue_depth(now: datetime) -> tuple[list[Depth], float | None]:
    """Ready jobs by type and priority, and the age in seconds of the oldest ready job."""
    # One grouped pass over the ready jobs, the oldest taken from the groups: an
    # ORDER BY run_after LIMIT 1 makes SQLite walk a full-table index, because it cannot
    # match a bound `status IN (?, ?, ?)` to the partial index on ready jobs.
    rows = (
        Job.objects.ready(now)
        .values_list("job_type__name", "priority")
        .annotate(n=Count("pk"), oldest=Min("run_after"))
        .order_by("-priority", "job_type__name")
    )
    depth, oldest = [], None
    for name, priority, n, first in rows:
        depth.append(Depth(name, priority, n))
        oldest = first if oldest is None or first < oldest else oldest
    age = None if oldest is None else max(0.0, (now - oldest).total_seconds())
    return depth, age


def clusters(now: datetime, keep_stopped: timedelta = timedelta(hours=1)) -> list[Cluster]:
    """Clusters seen recently: live, lost (silent for 3 heartbeats) or stopped."""
    lost_after = 3 * float(jobqueue_settings.HEARTBEAT_INTERVAL)
    busy = dict(Job.objects.running().values_list("claimed_by").annotate(n=Count("pk")).order_by())
    result = []
    for beat in ClusterHeartbeat.objects.filter(last_seen_at__gte=now - max(keep_stopped, timedelta(days=1))):
        age = max(0.0, (now - beat.last_seen_at).total_seconds())
        if beat.stopped_at is not None:
            if now - beat.stopped_at > keep_stopped:
                continue
            state = "stopped"
        else:
            state = "lost" if age > lost_after else "live"
        result.append(
            Cluster(
                key=beat.key,
                host=beat.host,
                pid=beat.pid,
                workers=beat.workers,
                busy=busy.get(beat.key, 0),
                claimed=beat.claimed,
                started_at=beat.started_at,
                last_seen_at=beat.last_seen_at,
                heartbeat_age=age,
                state=state,
            )
        )
    return result


def snapshot(window: str = "1h", now: datetime | None = None) -> Snapshot:
    """All of the dashboard's numbers in one call."""
    now = now or timezone.now()
    delta = window_delta(window)
    since = now - delta
    step = bucket_seconds(delta)
    total, types, series = window_metrics(since, now, step)
    depth, oldest = queue_depth(now)
    return Snapshot(
        window=window,
        since=since,
        now=now,
        total=total,
        types=types,
        throughput=series,
        bucket_seconds=step,
        depth=depth,
        ready=sum(d.ready for d in depth),
        oldest_ready_age=oldest,
        running=Job.objects.running().count(),
        dead_letters_unresolved=DeadLetter.objects.unresolved().count(),
        clusters=clusters(now),
    )


_RAN = (Status.RUNNING, Status.SUCCEEDED, Status.RETRYING, Status.DEAD, Status.SKIPPED)


def last_run(job_type: JobType | int) -> datetime | None:
    """When the type's latest job started: one lookup per state on the (type, status, created) index."""
    type_id = job_type if isinstance(job_type, int) else job_type.pk
    latest: list[Any] = []
    for status in _RAN:
        started = (
            Job.objects.filter(job_type_id=type_id, status=status, started_at__isnull=False)
            .order_by("-created_at")
            .values_list("started_at", flat=True)
            .first()
        )
        if started is not None:
            latest.append(started)
    return max(latest, default=None)


def type_counts() -> dict[int, dict[str, int]]:
    """Ready, running and unresolved dead counts by job type id (the admin's job type list)."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"ready": 0, "running": 0, "dead": 0})
    for key, queryset in (
        ("ready", Job.objects.ready()),
        ("running", Job.objects.running()),
        ("dead", DeadLetter.objects.unresolved()),
    ):
        for type_id, n in queryset.values_list("job_type_id").annotate(n=Count("pk")).order_by():
            counts[type_id][key] = n
    return counts
