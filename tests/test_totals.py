"""The rollup's totals (MetricTotal): the sums of every minute rolled up, counted once, never lowered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings

from jobqueue.models import Attempt, MetricMinute, MetricTotal
from jobqueue.observability import rollup
from jobqueue.observability.totals import TOTAL_FIELDS
from jobqueue.services.retention import prune
from tests.test_rollup import minute_now, roll_all, seed_history, start_rollup_at

pytestmark = pytest.mark.django_db


def totals() -> dict[str, dict[str, int]]:
    return {row.job_type.name: {f: getattr(row, f) for f in TOTAL_FIELDS} for row in MetricTotal.objects.all()}


def minute_sums() -> dict[str, dict[str, int]]:
    sums: dict[str, dict[str, int]] = {}
    for row in MetricMinute.objects.select_related("job_type"):
        into = sums.setdefault(row.job_type.name, dict.fromkeys(TOTAL_FIELDS, 0))
        for name in TOTAL_FIELDS:
            into[name] += getattr(row, name)
    return sums


def test_totals_are_the_sums_of_every_minute_rolled_up(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    seed_history(add_attempt, now)
    start_rollup_at(now - timedelta(hours=4))

    roll_all(now)

    assert totals() == minute_sums()
    assert totals()["echo"]["succeeded"] > 100
    assert totals()["noop"]["dead_lettered"] > 10
    assert (
        sum(totals()["echo"][f"d{i:02}"] for i in range(48))
        == totals()["echo"]["succeeded"] + totals()["echo"]["skipped"]
    )


def test_rolling_again_counts_nothing_twice(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    start_rollup_at(now - timedelta(minutes=30))
    add_attempt("echo", "succeeded", duration_ms=10, finished_ago=600, now=now)
    roll_all(now)
    first = totals()

    roll_all(now)
    rollup.reroll(now - timedelta(hours=1), now, now=now)

    assert totals() == first
    assert first["echo"]["succeeded"] == 1


def test_minutes_rolled_later_are_added(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    start_rollup_at(now - timedelta(minutes=30))
    add_attempt("echo", "succeeded", duration_ms=10, finished_ago=20 * 60, now=now)
    roll_all(now - timedelta(minutes=10))
    assert totals()["echo"]["succeeded"] == 1

    add_attempt("echo", "failed", duration_ms=10, finished_ago=5 * 60, now=now)
    roll_all(now)

    assert (totals()["echo"]["succeeded"], totals()["echo"]["failed"]) == (1, 1)


def test_a_late_import_rerolled_adds_only_the_difference(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    start_rollup_at(now - timedelta(minutes=30))
    add_attempt("echo", "succeeded", duration_ms=10, finished_ago=20 * 60, now=now)
    roll_all(now)

    add_attempt("echo", "succeeded", duration_ms=10, finished_ago=21 * 60, now=now)  # behind the watermark
    rollup.reroll(now - timedelta(minutes=25), now - timedelta(minutes=15), now=now)

    assert totals()["echo"]["succeeded"] == 2
    assert totals() == minute_sums()


@override_settings(JOBQUEUE={"METRICS_RETENTION": 3600, "DEFAULT_RETENTION": 60})
def test_pruning_the_history_and_the_minutes_leaves_the_totals_unchanged(add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    seed_history(add_attempt, now)
    start_rollup_at(now - timedelta(hours=4))
    roll_all(now)
    before = totals()
    attempts, minutes = Attempt.objects.count(), MetricMinute.objects.count()

    report = prune()
    assert report.jobs > 0
    assert Attempt.objects.count() < attempts / 2  # jobs still retrying are kept
    assert MetricMinute.objects.count() < minutes / 2
    assert totals() == before

    # Re-aggregating finds less history (and no minutes past METRICS_RETENTION): nothing is taken
    # from the totals, and nothing still in the history is counted again.
    rollup.reroll(now - timedelta(hours=4), now, now=now)
    roll_all(now)
    assert totals() == before
