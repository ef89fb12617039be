"""The per-minute rollup: known answers, equal to the raw aggregates, idempotent, safe to run twice at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import F, Sum
from django.test import override_settings
from django.utils import timezone

from jobqueue import enqueue
from jobqueue.models import Attempt, Job, JobType, MetricHour, MetricMinute, MetricRollup, Status
from jobqueue.observability import metrics, rollup
from jobqueue.registry import registry
from jobqueue.services.retention import prune
from tests.helpers import drain

pytestmark = pytest.mark.django_db

RAW_ONLY = override_settings(JOBQUEUE={"METRICS_ROLLUP_READ_MINUTES": 0})


def minute_now() -> datetime:
    """A `now` on a minute boundary, so that windows and throughput points start on minutes too."""
    return rollup.floor_minute(timezone.now())


def start_rollup_at(moment: datetime) -> None:
    """Pretend everything before `moment` is rolled up already (a first rollup would start 7 days back)."""
    MetricRollup.objects.update_or_create(pk=1, defaults={"rolled_until": rollup.floor_minute(moment)})


def roll_all(now: datetime | None = None) -> None:
    while rollup.roll_up(now).behind:
        pass


def table(model: type[MetricMinute] | type[MetricHour]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "id"} for row in model.objects.order_by("pk").values()]


def seed_history(add_attempt: Callable[..., Any], now: datetime) -> None:
    """Three hours of history for two types, with the outcomes, retries, dead letters and
    cancellations the metrics count, spread over many minutes and into the unrolled tail."""
    for i in range(180):
        ago = 10 + i * 60 + (i % 7) * 3  # a minute apart, every second of the minute in turn
        add_attempt(
            "echo", "succeeded", duration_ms=1 + i * 37 % 3000, wait_ms=i * 53 % 9000, finished_ago=ago, now=now
        )
        if i % 3 == 0:
            add_attempt("noop", "failed", duration_ms=200 + i, finished_ago=ago + 1, now=now)
        if i % 5 == 0:
            add_attempt("noop", "timed_out", duration_ms=30_000, number=2, finished_ago=ago + 2, now=now)
        if i % 11 == 0:
            add_attempt("noop", "crashed", duration_ms=5, number=3, dead=True, finished_ago=ago + 3, now=now)
        if i % 13 == 0:
            add_attempt("echo", "skipped", duration_ms=0, finished_ago=ago + 4, now=now)
        if i % 17 == 0:
            Job.objects.create(
                job_type=JobType.objects.get(name="echo"),
                status=Status.CANCELLED,
                created_at=now - timedelta(seconds=ago + 30),
                finished_at=now - timedelta(seconds=ago + 5),
            )


def assert_close(rolled: metrics.Distribution, raw: metrics.Distribution) -> None:
    """Rolled-up percentiles are within one bin's error of the exact ones; count and max are exact."""
    assert rolled.count == raw.count
    assert rolled.max == raw.max
    for name in ("p50", "p95", "p99"):
        exact, approx = getattr(raw, name), getattr(rolled, name)
        if exact is None:
            assert approx is None
        elif exact < 1:
            assert approx < 1
        else:
            assert exact / (1 + rollup.BIN_ERROR) <= approx <= exact * (1 + rollup.BIN_ERROR), name
    assert rolled.mean == pytest.approx(raw.mean, rel=0.01)


@pytest.mark.parametrize(
    ("ms", "index"),
    [(0, 0), (0.99, 0), (1, 1), (1.41, 1), (1.42, 2), (2, 3), (3, 4), (4, 5), (1000, 20), (10**12, 47)],
)
def test_bins_are_powers_of_sqrt_two(ms: float, index: int) -> None:
    assert rollup.bin_of(ms) == index


def test_a_bin_stands_for_its_values_within_the_stated_error() -> None:
    for ms in [*range(1, 5000), 123_456, 4_000_000]:
        value = rollup.bin_value(rollup.bin_of(ms))
        assert ms / (1 + rollup.BIN_ERROR) <= value <= ms * (1 + rollup.BIN_ERROR)


def test_a_minute_row_holds_known_counts_and_histograms(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    minute = now - timedelta(minutes=10)
    start_rollup_at(minute)
    for ms in (10, 100, 1000):  # 30 s into the minute ten minutes ago
        add_attempt("echo", "succeeded", duration_ms=ms, wait_ms=ms * 2, finished_ago=570, now=now)
    add_attempt("echo", "failed", duration_ms=7, number=2, dead=True, finished_ago=540.5, now=now)
    add_attempt("echo", "succeeded", duration_ms=1, finished_ago=539, now=now)  # the next minute

    roll_all(now)

    row = MetricMinute.objects.get(minute=minute, job_type__name="echo")
    assert (row.succeeded, row.failed, row.retried, row.dead_lettered, row.enqueued) == (3, 1, 1, 1, 4)
    assert (row.duration_total_ms, row.duration_max_ms, row.wait_max_ms) == (1117, 1000, 2000)
    histogram = {i: getattr(row, f"d{i:02}") for i in range(48) if getattr(row, f"d{i:02}")}
    assert histogram == {rollup.bin_of(7): 1, rollup.bin_of(10): 1, rollup.bin_of(100): 1, rollup.bin_of(1000): 1}
    waits = {i: getattr(row, f"w{i:02}") for i in range(48) if getattr(row, f"w{i:02}")}
    assert waits == {0: 1, rollup.bin_of(20): 1, rollup.bin_of(200): 1, rollup.bin_of(2000): 1}
    assert MetricMinute.objects.get(minute=minute + timedelta(minutes=1)).succeeded == 1
    # Minutes closer to now than METRICS_ROLLUP_LAG (120 s) are left to the raw reads.
    assert MetricRollup.objects.get().rolled_until == now - timedelta(minutes=2)


def test_window_metrics_from_the_rollup_equal_the_raw_aggregates(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    seed_history(add_attempt, now)
    with RAW_ONLY:
        raw = {window: metrics.snapshot(window, now=now) for window in ("15m", "1h", "24h")}
    assert raw["24h"].total.counts.started > 300

    start_rollup_at(now - timedelta(hours=4))
    roll_all(now)
    assert MetricHour.objects.exists()
    with RAW_ONLY:
        rolled = {window: metrics.snapshot(window, now=now) for window in ("15m", "1h", "24h")}

    for window, exact in raw.items():
        approx = rolled[window]
        assert approx.total.counts == exact.total.counts, window
        assert approx.throughput == exact.throughput, window
        assert [t.name for t in approx.types] == [t.name for t in exact.types]
        for rolled_type, raw_type in zip([approx.total, *approx.types], [exact.total, *exact.types], strict=True):
            assert rolled_type.counts == raw_type.counts
            assert_close(rolled_type.duration, raw_type.duration)
            assert_close(rolled_type.wait, raw_type.wait)


def test_a_window_is_rolled_buckets_plus_the_raw_tail(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    start_rollup_at(now - timedelta(hours=1))
    add_attempt("echo", "succeeded", finished_ago=30 * 60, now=now)
    roll_all(now)
    # Proof that the closed part is read from the buckets: a change there shows in the window.
    MetricMinute.objects.filter(job_type__name="echo", succeeded=1).update(succeeded=F("succeeded") + 40)
    add_attempt("echo", "succeeded", finished_ago=30, now=now)  # in the tail, never rolled
    add_attempt("echo", "failed", finished_ago=90, now=now)

    with RAW_ONLY:
        snap = metrics.snapshot("1h", now=now)

    echo = snap.type("echo")
    assert echo is not None
    assert (echo.counts.succeeded, echo.counts.failed) == (42, 1)
    assert sum(p.succeeded for p in snap.throughput) == 42
    assert snap.throughput[-1].succeeded == 1


def test_long_windows_read_whole_hours_from_the_hourly_sums(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    start_rollup_at(now - timedelta(hours=5))
    for hours in (2, 3, 4):
        add_attempt("echo", "succeeded", duration_ms=hours, finished_ago=hours * 3600, now=now)
    roll_all(now)

    for hour in MetricHour.objects.all():
        minutes = MetricMinute.objects.filter(
            job_type=hour.job_type_id, minute__gte=hour.hour, minute__lt=hour.hour + timedelta(hours=1)
        )
        assert hour.succeeded == minutes.aggregate(n=Sum("succeeded"))["n"]
    assert MetricHour.objects.aggregate(n=Sum("succeeded"))["n"] == 3
    MetricHour.objects.update(succeeded=F("succeeded") + 100)
    with RAW_ONLY:
        snap = metrics.snapshot("7d", now=now)
    assert snap.total.counts.succeeded > 100


def test_rolling_again_replaces_the_minutes(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    start_rollup_at(now - timedelta(hours=3))
    seed_history(add_attempt, now)
    roll_all(now)
    before_minutes, before_hours = table(MetricMinute), table(MetricHour)

    assert rollup.reroll(now - timedelta(hours=3), now, now=now) == len(before_minutes)
    assert table(MetricMinute) == before_minutes
    assert table(MetricHour) == before_hours
    assert rollup.roll_up(now).minutes == 0  # nothing new is closed

    # An attempt recorded late into a rolled minute is counted once the minutes are rolled again.
    add_attempt("noop", "succeeded", finished_ago=30 * 60 + 1, now=now)
    rollup.reroll(now - timedelta(minutes=31), now - timedelta(minutes=29), now=now)
    with RAW_ONLY:
        noop = metrics.snapshot("1h", now=now).type("noop")
    assert noop is not None
    assert noop.counts.succeeded == 1
    for hour in MetricHour.objects.all():  # the hours' sums follow their minutes
        minutes = MetricMinute.objects.filter(
            job_type=hour.job_type_id, minute__gte=hour.hour, minute__lt=hour.hour + timedelta(hours=1)
        )
        assert hour.succeeded == minutes.aggregate(n=Sum("succeeded"))["n"]


def test_reading_the_metrics_rolls_a_few_minutes_up(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    start_rollup_at(now - timedelta(hours=1))
    with override_settings(JOBQUEUE={"METRICS_ROLLUP_READ_MINUTES": 5}):
        metrics.snapshot("15m", now=now)
    assert MetricRollup.objects.get().rolled_until == now - timedelta(minutes=55)


@pytest.mark.django_db(transaction=True)
def test_two_processes_rolling_at_once_count_once(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    start_rollup_at(now - timedelta(hours=3))
    seed_history(add_attempt, now)
    expected = Attempt.objects.filter(
        finished_at__gte=now - timedelta(hours=3), finished_at__lt=now - timedelta(minutes=2)
    ).count()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(work: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            work()
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    for work in (lambda: roll_all(now), lambda: rollup.reroll(now - timedelta(hours=3), now, now=now)):
        threads = [threading.Thread(target=run, args=(work,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        totals = MetricMinute.objects.aggregate(
            n=Sum(F("succeeded") + F("failed") + F("timed_out") + F("crashed") + F("skipped"))
        )
        assert totals["n"] == expected
        assert (
            MetricHour.objects.aggregate(n=Sum("succeeded"))["n"]
            == MetricMinute.objects.filter(minute__lt=rollup.floor_hour(now - timedelta(minutes=2))).aggregate(
                n=Sum("succeeded")
            )["n"]
        )


def test_prune_keeps_rolled_minutes_for_their_own_retention() -> None:
    now = timezone.now()
    echo = JobType.objects.get(name="echo")
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    for moment in (old, recent):
        MetricMinute.objects.create(minute=rollup.floor_minute(moment), job_type=echo, succeeded=1)
        MetricHour.objects.create(hour=rollup.floor_hour(moment), job_type=echo, succeeded=1)

    prune(now)

    assert list(MetricMinute.objects.values_list("minute", flat=True)) == [rollup.floor_minute(recent)]
    assert list(MetricHour.objects.values_list("hour", flat=True)) == [rollup.floor_hour(recent)]


def test_the_rollup_job_type_rolls_up_through_the_real_runner(add_attempt: Callable[..., Any]) -> None:
    definition = registry.get("jobqueue_rollup")
    assert (definition.defaults["schedule"].interval, definition.defaults["overlap"]) == (60, False)
    now = timezone.now()
    start_rollup_at(now - timedelta(hours=1))
    add_attempt("echo", "succeeded", finished_ago=20 * 60, now=now)

    enqueue("jobqueue_rollup", {})
    assert drain() == ["succeeded"]

    assert MetricRollup.objects.get().rolled_until == rollup.closed_until(timezone.now())
    assert MetricMinute.objects.aggregate(n=Sum("succeeded"))["n"] == 1
