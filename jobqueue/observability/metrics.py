"""Metrics of the queue as dataclasses: counts, rates, percentiles, depth and clusters.

The admin, the API and the CLI read only this module. A window's whole minutes that are
already rolled up are read from MetricMinute (jobqueue.observability.rollup), a few rows a minute; only
its first partial minute and its last few minutes are read from the history, over indexed
columns (`Attempt.finished_at`, `Job.created_at`, `Job.finished_at`, `DeadLetter.created_at`).
"Now" counts use the partial indexes of ready and running jobs. So the cost follows neither
the size of the history nor the traffic of the window."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from jobqueue.config.settings import Window, jobqueue_settings
from jobqueue.models import (
    HISTOGRAM_BINS,
    ClusterHeartbeat,
    DeadLetter,
    Job,
    JobType,
    Outcome,
    Status,
)
from jobqueue.observability import rollup
from jobqueue.observability.rollup import bin_value

# Keyed by the windows the JOBQUEUE setting accepts (HEALTH_WINDOW).
WINDOWS: dict[Window, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
FAILED_OUTCOMES = (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.CRASHED)
# Throughput series keep about this many points whatever the window (one a minute up to 2 h).
MAX_POINTS = 120


def window_delta(window: str) -> timedelta:
    for name, delta in WINDOWS.items():
        if name == window:
            return delta
    raise ValueError(f"unknown window {window!r}; use one of {', '.join(WINDOWS)}")


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
class _Sample:
    """Durations or waits of a window: exact values from raw rows, histogram bins from the rollup."""

    exact: list[float] = field(default_factory=list)
    bins: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_BINS)
    binned: int = 0
    total: float = 0.0
    max: float | None = None

    def add_bins(self, bins: Sequence[int], total: float, largest: float | None) -> None:
        for index, n in enumerate(bins):
            self.bins[index] += n
        self.binned += sum(bins)
        self.total += total
        if largest is not None:
            self.max = largest if self.max is None else max(self.max, largest)

    def distribution(self) -> Distribution:
        if not self.binned:
            return Distribution.of(self.exact)
        # Nearest rank over the exact values and the bins' midpoints (the last bin is open-ended:
        # it stands for the largest value seen), never above the largest value seen.
        largest = max([*self.exact, self.max or 0.0])
        points = sorted(
            [(v, 1) for v in self.exact]
            + [(largest if i == HISTOGRAM_BINS - 1 else bin_value(i), n) for i, n in enumerate(self.bins) if n]
        )
        count = len(self.exact) + self.binned

        def rank(p: float) -> float:
            wanted, seen = max(1, math.ceil(p / 100 * count)), 0
            for value, n in points:
                seen += n
                if seen >= wanted:
                    return min(value, largest)
            return largest

        return Distribution(
            count=count,
            p50=rank(50),
            p95=rank(95),
            p99=rank(99),
            max=largest,
            mean=(self.total + sum(self.exact)) / count,
        )


@dataclass
class _Tally:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    durations: _Sample = field(default_factory=_Sample)
    waits: _Sample = field(default_factory=_Sample)

    def metrics(self, name: str) -> TypeMetrics:
        counts = Counts(**{k: self.counts.get(k, 0) for k in Counts.__dataclass_fields__})
        return TypeMetrics(name, counts, self.durations.distribution(), self.waits.distribution())


def bucket_seconds(window: timedelta) -> int:
    """Throughput bucket: a minute, or wider so that a long window keeps MAX_POINTS points."""
    return max(60, math.ceil(window.total_seconds() / MAX_POINTS / 60) * 60)


class _Window:
    """The tallies of one window, filled from rolled-up minutes and from raw history."""

    def __init__(self, since: datetime, now: datetime, step: int) -> None:
        self.since, self.step = since, step
        self.names = dict(JobType.objects.values_list("pk", "name"))
        self.tallies: dict[str, _Tally] = defaultdict(_Tally)
        self.total = _Tally()
        self.series = [[0, 0] for _ in range(max(math.ceil((now - since).total_seconds() / step), 1))]

    def add(self, type_id: int, key: str, amount: int = 1) -> None:
        self.tallies[self.names.get(type_id, "?")].counts[key] += amount
        self.total.counts[key] += amount

    def point(self, moment: datetime) -> list[int]:
        return self.series[min(int((moment - self.since).total_seconds() // self.step), len(self.series) - 1)]

    def add_raw(self, lower: dict[str, datetime], upper: dict[str, datetime]) -> None:
        """Attempts, enqueued and cancelled jobs and dead letters between two bounds such as
        {"gt": since} and {"lte": now}, read from the history itself."""

        def span(column: str) -> dict[str, datetime]:
            return {f"{column}__{op}": value for op, value in (*lower.items(), *upper.items())}

        for row in rollup.attempt_rows(**span("finished_at")):
            tally = self.tallies[self.names.get(row.type_id, "?")]
            self.add(row.type_id, "started")
            if row.number > 1:
                self.add(row.type_id, "retried")
            if row.outcome == Outcome.SUCCEEDED:
                self.add(row.type_id, "succeeded")
                self.point(row.finished_at)[0] += 1
            elif row.outcome in FAILED_OUTCOMES:
                self.add(row.type_id, "failed")
                self.point(row.finished_at)[1] += 1
            elif row.outcome == Outcome.SKIPPED:
                self.add(row.type_id, "skipped")
            if row.duration_ms is not None:
                tally.durations.exact.append(row.duration_ms)
                self.total.durations.exact.append(row.duration_ms)
            if row.wait_ms is not None:
                tally.waits.exact.append(row.wait_ms)
                self.total.waits.exact.append(row.wait_ms)
        for key, queryset in (
            ("enqueued", Job.objects.filter(**span("created_at"))),
            ("cancelled", Job.objects.filter(**span("finished_at"), status=Status.CANCELLED)),
            ("dead_lettered", DeadLetter.objects.filter(**span("created_at"))),
        ):
            for type_id, count in queryset.values_list("job_type_id").annotate(n=Count("pk")).order_by():
                self.add(type_id, key, count)

    def add_rolled(self, lower: datetime, upper: datetime) -> None:
        """The rolled-up minutes in [lower, upper): sums in SQL, a few rows per job type and per point."""
        for row in rollup.rolled_sums(lower, upper):
            type_id = row["job_type_id"]
            failed = row["failed"] + row["timed_out"] + row["crashed"]
            started = failed + row["succeeded"] + row["skipped"] + row["cancelled"]
            for key, amount in (
                ("started", started),
                ("succeeded", row["succeeded"]),
                ("failed", failed),
                ("skipped", row["skipped"]),
                ("retried", row["retried"]),
                ("enqueued", row["enqueued"]),
                ("cancelled", row["jobs_cancelled"]),
                ("dead_lettered", row["dead_lettered"]),
            ):
                if amount:
                    self.add(type_id, key, amount)
            tally = self.tallies[self.names.get(type_id, "?")]
            durations = [row[b] for b in rollup.DURATION_BINS]
            waits = [row[b] for b in rollup.WAIT_BINS]
            for sample in (tally.durations, self.total.durations):
                sample.add_bins(durations, row["duration_total_ms"], row["duration_max_ms"])
            for sample in (tally.waits, self.total.waits):
                sample.add_bins(waits, row["wait_total_ms"], row["wait_max_ms"])
        last = len(self.series) - 1
        for point, succeeded, failed in rollup.rolled_throughput(lower, upper, self.since, self.step):
            self.series[min(point, last)][0] += succeeded
            self.series[min(point, last)][1] += failed


def window_metrics(
    since: datetime, now: datetime, step: int = 60
) -> tuple[TypeMetrics, list[TypeMetrics], list[ThroughputPoint]]:
    """Counts, durations and waits per type and in total, and the throughput series.

    The whole minutes already rolled up are read from MetricMinute (percentiles from its
    histograms, approximate); the rest of the window, its first partial minute and the last
    few minutes, from the history itself. Reading rolls up a few newly closed minutes first.
    """
    rollup.roll_up(now, max_minutes=jobqueue_settings.METRICS_ROLLUP_READ_MINUTES, wait=False)
    window = _Window(since, now, step)
    first, rolled = rollup.ceil_minute(since), rollup.rolled_until()
    last = None if rolled is None else min(rolled, rollup.floor_minute(now))
    if last is None or last <= first:
        window.add_raw({"gt": since}, {"lte": now})
    else:
        window.add_raw({"gt": since}, {"lt": first})
        window.add_rolled(first, last)
        window.add_raw({"gte": last}, {"lte": now})

    for type_id, started in Job.objects.running().filter(started_at__gt=since).values_list("job_type_id", "started_at"):
        if started is not None:
            window.add(type_id, "started")

    types = sorted((tally.metrics(name) for name, tally in window.tallies.items()), key=lambda m: m.name)
    points = [
        ThroughputPoint(since + timedelta(seconds=i * step), succeeded, failed)
        for i, (succeeded, failed) in enumerate(window.series)
    ]
    return window.total.metrics(""), types, points


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
    lost_after = 3 * jobqueue_settings.HEARTBEAT_INTERVAL
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
