"""The per-minute rollup of the history (MetricMinute), so that metrics never read a long window raw.

Nothing on the job's path writes here: minutes are aggregated after the fact from `Attempt`,
`Job` and `DeadLetter`, when the metrics are read (a few minutes per read) and by the built-in
job type `jobqueue_rollup` (every 60 s). A minute is rolled once it ended `METRICS_ROLLUP_LAG`
seconds ago, in order, from the watermark `MetricRollup.rolled_until`. Rolling locks the
watermark row and replaces the rows of the minutes it rolls, so rolling is idempotent and two
processes rolling at once take turns instead of counting twice.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import F, Func, IntegerField, Max, Q, QuerySet, Sum, Value
from django.db.models.expressions import Combinable
from django.utils import timezone

from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import (
    HISTOGRAM_BINS,
    Attempt,
    DeadLetter,
    Job,
    MetricHour,
    MetricMinute,
    MetricRollup,
    Outcome,
    Status,
)
from jobqueue.observability import totals

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
# A first rollup starts this far back: the longest window the metrics show.
FIRST_ROLLUP_SPAN = timedelta(days=7)
# Minutes aggregated per transaction, to keep the watermark's lock short.
CHUNK_MINUTES = 60
OUTCOME_FIELDS = {
    Outcome.SUCCEEDED: "succeeded",
    Outcome.FAILED: "failed",
    Outcome.TIMED_OUT: "timed_out",
    Outcome.CRASHED: "crashed",
    Outcome.CANCELLED: "cancelled",
    Outcome.SKIPPED: "skipped",
}
COUNT_FIELDS = (*OUTCOME_FIELDS.values(), "retried", "dead_lettered", "enqueued", "jobs_cancelled")
DURATION_BINS = tuple(f"d{i:02}" for i in range(HISTOGRAM_BINS))
WAIT_BINS = tuple(f"w{i:02}" for i in range(HISTOGRAM_BINS))
SUM_FIELDS = (*COUNT_FIELDS, "duration_total_ms", "wait_total_ms", *DURATION_BINS, *WAIT_BINS)
MAX_FIELDS = ("duration_max_ms", "wait_max_ms")
# Each bin spans a factor of sqrt(2); its midpoint (geometric) is within 2 ** 0.25 of any value in it.
BIN_ERROR = 2**0.25 - 1


def bin_of(ms: float) -> int:
    """Histogram bin of a duration in ms: 0 for [0, 1), then i for [2 ** ((i-1)/2), 2 ** (i/2)), the last open."""
    if ms < 1:
        return 0
    return min(HISTOGRAM_BINS - 1, 1 + math.floor(2 * math.log2(ms)))


def bin_value(index: int) -> float:
    """The value a bin stands for in percentiles: its geometric midpoint (0 for the first bin)."""
    return 0.0 if index == 0 else 2 ** ((2 * index - 1) / 4)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def ceil_minute(moment: datetime) -> datetime:
    floor = floor_minute(moment)
    return floor if floor == moment else floor + MINUTE


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


class AttemptRow(NamedTuple):
    type_id: int
    finished_at: datetime
    outcome: str
    number: int
    duration_ms: int | None
    wait_ms: float | None


def attempt_rows(**filters: Any) -> Iterator[AttemptRow]:
    """Finished attempts matching `filters`, with the queue wait of a job's latest attempt."""
    rows = Attempt.objects.filter(**filters).values_list(
        "job__job_type_id",
        "finished_at",
        "outcome",
        "number",
        "duration_ms",
        "started_at",
        "job__run_after",
        "job__attempts",
    )
    for type_id, finished_at, outcome, number, duration_ms, started_at, run_after, job_attempts in rows.iterator(
        chunk_size=5000
    ):
        # The job's run_after is rewritten on retry, so it gives the wait of its latest attempt only.
        wait_ms = None
        if started_at is not None and number == job_attempts and started_at >= run_after:
            wait_ms = (started_at - run_after).total_seconds() * 1000
        yield AttemptRow(type_id, finished_at, outcome, number, duration_ms, wait_ms)


def event_rows(lower: datetime, upper: datetime) -> Iterator[tuple[str, int, datetime]]:
    """(count field, type id, when) for jobs enqueued, jobs cancelled and dead letters in [lower, upper)."""
    for key, queryset, column in (
        ("enqueued", Job.objects.filter(created_at__gte=lower, created_at__lt=upper), "created_at"),
        (
            "jobs_cancelled",
            Job.objects.filter(finished_at__gte=lower, finished_at__lt=upper, status=Status.CANCELLED),
            "finished_at",
        ),
        ("dead_lettered", DeadLetter.objects.filter(created_at__gte=lower, created_at__lt=upper), "created_at"),
    ):
        for type_id, at in queryset.values_list("job_type_id", column).order_by().iterator(chunk_size=5000):
            yield key, type_id, at


@dataclass
class MinuteTally:
    """One (minute, job type) being rolled up."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    durations: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_BINS)
    waits: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_BINS)
    duration_total: int = 0
    duration_max: int | None = None
    wait_total: int = 0
    wait_max: int | None = None

    def add_attempt(self, row: AttemptRow) -> None:
        # A snoozed attempt is neither a success nor a failure: it has no count of its own.
        if (counted := OUTCOME_FIELDS.get(Outcome(row.outcome))) is not None:
            self.counts[counted] += 1
        if row.number > 1:
            self.counts["retried"] += 1
        if row.duration_ms is not None:
            self.durations[bin_of(row.duration_ms)] += 1
            self.duration_total += row.duration_ms
            self.duration_max = max(self.duration_max or 0, row.duration_ms)
        if row.wait_ms is not None:
            self.waits[bin_of(row.wait_ms)] += 1
            self.wait_total += round(row.wait_ms)
            self.wait_max = max(self.wait_max or 0, round(row.wait_ms))

    def row(self, minute: datetime, type_id: int) -> MetricMinute:
        values: dict[str, Any] = {name: self.counts.get(name, 0) for name in COUNT_FIELDS}
        values.update(zip(DURATION_BINS, self.durations, strict=True))
        values.update(zip(WAIT_BINS, self.waits, strict=True))
        return MetricMinute(
            minute=minute,
            job_type_id=type_id,
            duration_total_ms=self.duration_total,
            duration_max_ms=self.duration_max,
            wait_total_ms=self.wait_total,
            wait_max_ms=self.wait_max,
            **values,
        )


def tally(lower: datetime, upper: datetime) -> dict[tuple[datetime, int], MinuteTally]:
    """Aggregate the raw history of the whole minutes in [lower, upper), by minute and job type."""
    tallies: dict[tuple[datetime, int], MinuteTally] = defaultdict(MinuteTally)
    for row in attempt_rows(finished_at__gte=lower, finished_at__lt=upper):
        tallies[floor_minute(row.finished_at), row.type_id].add_attempt(row)
    for key, type_id, at in event_rows(lower, upper):
        tallies[floor_minute(at), type_id].counts[key] += 1
    return tallies


def bucket_sums(buckets: QuerySet[Any]) -> list[dict[str, Any]]:
    """Per job type, the sums (and the maxima) of MetricMinute or MetricHour rows."""
    aggregates: dict[str, Any] = {name: Sum(name) for name in SUM_FIELDS} | {name: Max(name) for name in MAX_FIELDS}
    return [dict(row) for row in buckets.values("job_type_id").annotate(**aggregates).order_by()]


def _replace(lower: datetime, upper: datetime, counted_until: datetime | None, *, count_new: bool) -> int:
    """Write the minutes in [lower, upper) afresh, then every hour that ends in (lower, upper]
    from its minutes; the caller holds the watermark's lock.

    The totals (jobqueue.observability.totals) already hold the minutes before `counted_until`: they gain only
    what a new aggregation adds (never less), and only for minutes young enough that pruning cannot
    have removed their rows (METRICS_RETENTION), so that nothing is counted twice. With `count_new`
    the later minutes are added whole (the caller moves the watermark past them)."""
    seen = min(max(counted_until or lower, lower), upper)
    kept = max(lower, timezone.now() - timedelta(seconds=jobqueue_settings.METRICS_RETENTION))
    before = totals.minute_sums(kept, seen)
    rows = [t.row(minute, type_id) for (minute, type_id), t in sorted(tally(lower, upper).items())]
    MetricMinute.objects.filter(minute__gte=lower, minute__lt=upper).delete()
    MetricMinute.objects.bulk_create(rows, batch_size=500)
    hour = floor_hour(lower)
    while hour + HOUR <= upper:
        minutes = MetricMinute.objects.filter(minute__gte=hour, minute__lt=hour + HOUR)
        MetricHour.objects.filter(hour=hour).delete()
        MetricHour.objects.bulk_create([MetricHour(hour=hour, **sums) for sums in bucket_sums(minutes)])
        hour += HOUR
    totals.add(totals.minute_sums(kept, seen), minus=before)
    if count_new:
        totals.add(totals.minute_sums(seen, upper))
    return len(rows)


def rolled_sums(lower: datetime, upper: datetime) -> list[dict[str, Any]]:
    """bucket_sums() of the rolled-up minutes in [lower, upper): whole hours from MetricHour, the rest
    from MetricMinute. Several rows may name the same job type."""
    first, last = ceil_hour(lower), floor_hour(upper)
    if first >= last:
        return bucket_sums(MetricMinute.objects.filter(minute__gte=lower, minute__lt=upper))
    # Both ends in one query: a query of a hundred sums takes Django a few milliseconds to build.
    ends = Q(minute__gte=lower, minute__lt=first) | Q(minute__gte=last, minute__lt=upper)
    return [
        *bucket_sums(MetricMinute.objects.filter(ends)),
        *bucket_sums(MetricHour.objects.filter(hour__gte=first, hour__lt=last)),
    ]


class EpochSeconds(Func):
    """Seconds since 1970 of a datetime column, as an integer."""

    output_field = IntegerField()
    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS bigint)"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # (julianday - the Julian day of 1970-01-01) in seconds; strftime('%s') would need a '%' to escape twice.
        template = "CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400) AS integer)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # No EXTRACT(EPOCH ...); UNIX_TIMESTAMP would read the column in the session's time zone.
        template = "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', %(expressions)s)"
        return self.as_sql(compiler, connection, template=template, **extra)


class IntDiv(Func):
    """Integer division, truncated toward zero (MySQL's `/` gives a decimal: it has DIV)."""

    output_field = IntegerField()
    arg_joiner = " / "
    template = "(%(expressions)s)"

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, arg_joiner=" DIV ", **extra)


def rolled_throughput(lower: datetime, upper: datetime, origin: datetime, step: int) -> list[tuple[int, int, int]]:
    """(point, succeeded, failed) of the rolled-up minutes in [lower, upper), where a minute's point is
    the number of `step`-second intervals from `origin` to its start; grouped in SQL."""
    offset: Combinable = EpochSeconds("minute") - Value(int(origin.timestamp()))
    point = IntDiv(offset, Value(step))
    failed = F("failed") + F("timed_out") + F("crashed")
    rows = (
        MetricMinute.objects.filter(minute__gte=lower, minute__lt=upper)
        .annotate(point=point)
        .values("point")
        .annotate(s=Sum("succeeded"), f=Sum(failed))
        .order_by()
    )
    return list(rows.values_list("point", "s", "f"))


@dataclass(frozen=True)
class RollupReport:
    minutes: int  # minutes rolled up by this call
    rows: int  # MetricMinute rows written
    rolled_until: datetime | None  # the watermark after the call
    behind: bool  # closed minutes remain to be rolled (the budget ran out, or another process was rolling)


def closed_until(now: datetime) -> datetime:
    """The end of the last minute the rollup may aggregate at `now` (minutes end METRICS_ROLLUP_LAG earlier)."""
    return floor_minute(now - timedelta(seconds=jobqueue_settings.METRICS_ROLLUP_LAG))


def _watermark() -> MetricRollup:
    state, _ = MetricRollup.objects.get_or_create(pk=1)
    return state


def rolled_until() -> datetime | None:
    """Every minute before this one is in MetricMinute (None before the first rollup)."""
    return MetricRollup.objects.filter(pk=1).values_list("rolled_until", flat=True).first()


def _lock(wait: bool) -> MetricRollup | None:
    """The watermark row, locked for this transaction (None when `wait` is false and another process holds it)."""
    rows = MetricRollup.objects.filter(pk=1)
    if connection.features.has_select_for_update:
        return rows.select_for_update(skip_locked=not wait).first()
    # SQLite locks the whole database at the first write: take that lock before reading the watermark.
    rows.update(updated_at=timezone.now())
    return rows.first()


def roll_up(now: datetime | None = None, *, max_minutes: int | None = None, wait: bool = True) -> RollupReport:
    """Roll up the closed minutes after the watermark, at most `max_minutes` of them (default
    METRICS_ROLLUP_BATCH_MINUTES). With `wait=False` it gives up at once if another process is rolling
    (on PostgreSQL; SQLite lets one writer in at a time, so there it waits its turn, an hour of minutes)."""
    real_now = timezone.now()
    target = closed_until(min(now or real_now, real_now))
    budget = max_minutes if max_minutes is not None else jobqueue_settings.METRICS_ROLLUP_BATCH_MINUTES
    state = _watermark()
    minutes = rows = 0
    while state.rolled_until is None or state.rolled_until < target:
        if minutes >= budget:
            break
        with transaction.atomic():
            locked = _lock(wait)
            if locked is None:
                break
            state = locked
            start = state.rolled_until or floor_minute(target - FIRST_ROLLUP_SPAN)
            if start >= target:
                break
            end = min(target, start + MINUTE * min(CHUNK_MINUTES, budget - minutes))
            rows += _replace(start, end, state.rolled_until, count_new=True)
            minutes += int((end - start) / MINUTE)
            state.rolled_until = end
            state.updated_at = timezone.now()
            state.save(update_fields=["rolled_until", "updated_at"])
    behind = state.rolled_until is None or state.rolled_until < target
    return RollupReport(minutes, rows, state.rolled_until, behind)


def reroll(lower: datetime, upper: datetime, now: datetime | None = None) -> int:
    """Aggregate again the closed minutes of the hours that [lower, upper) touches (e.g. after a late
    import), and those hours' sums; returns the minute rows written. Minutes are closed as of
    `now` (default: the clock), like roll_up's.

    The watermark does not move: minutes after it are rolled again by the next roll_up().
    """
    lower, upper = floor_hour(lower), min(ceil_hour(upper), closed_until(now or timezone.now()))
    if upper <= lower:
        return 0
    _watermark()
    with transaction.atomic():
        state = _lock(wait=True)
        return _replace(lower, upper, state.rolled_until if state else None, count_new=False)
