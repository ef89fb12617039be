"""Monotonic totals per job type (MetricTotal), added to by the rollup as it rolls minutes up.

The Prometheus counters and histograms read these totals. They are added to in the transaction
that writes the minutes (under the rollup's lock) and never decreased, so pruning the history or
the minutes cannot make a counter go down.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import F, Sum

from jobqueue.models import MetricMinute, MetricTotal

# Every summed column: the counts, the duration and wait totals and the histogram bins.
TOTAL_FIELDS = tuple(
    f.name
    for f in MetricTotal._meta.concrete_fields
    if f.name not in ("id", "job_type", "duration_max_ms", "wait_max_ms")
)

Sums = dict[int, dict[str, int]]


def minute_sums(lower: datetime, upper: datetime) -> Sums:
    """Per job type id, the sums of the MetricMinute rows in [lower, upper)."""
    if upper <= lower:
        return {}
    rows = (
        MetricMinute.objects.filter(minute__gte=lower, minute__lt=upper)
        .values("job_type_id")
        .annotate(**{name: Sum(name) for name in TOTAL_FIELDS})
        .order_by()
    )
    sums: Sums = {}
    for row in rows:
        values: dict[str, Any] = dict(row)
        sums[int(values["job_type_id"])] = {name: int(values[name] or 0) for name in TOTAL_FIELDS}
    return sums


def add(sums: Sums, minus: Sums | None = None) -> None:
    """Add `sums` to the totals, less `minus` where given; a difference below zero adds nothing."""
    for type_id, values in sums.items():
        base = (minus or {}).get(type_id, {})
        increments = {name: value - base.get(name, 0) for name, value in values.items() if value > base.get(name, 0)}
        if not increments:
            continue
        MetricTotal.objects.get_or_create(job_type_id=type_id)
        MetricTotal.objects.filter(job_type_id=type_id).update(**{name: F(name) + n for name, n in increments.items()})
