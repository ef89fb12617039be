"""The rate window of rate-limited job types, in one place: its `RateLimitStart` rows.

A type's `rate_limit` ("count/period") admits at most `count` starts in any `period`, where
a start is the moment a job's code begins. A row enters the window when the claim takes the
job, with no time: a claim not yet started counts in every window, however long it waits
for a worker (its start can only be later than any window seen so far). When a worker starts
the job the row takes the time read after the start was written, the last moment before
the job's code runs, so a later claim that sees the row leave the window cannot start its
job within `period` of this one's code. The one delete rule: a claim that ends without
running (given back: shutdown, preemption, rate limited, never received) leaves the window,
because the window counts starts. Rows older than a day are pruned by retention. A
partitioned type's rows carry the job's partition value, and the window is one per value.

A start stays in the window for its period plus a margin (`margin()`: a tenth of the period,
at most 250 ms). The time a row takes is read before the start's write commits, and the job's
code begins a little later (the commit, the hand-over to the job's code: milliseconds, more on
a loaded machine); a later claim admitted the moment the row left a window of exactly the
period could start its code within the period of this one's code. With the margin, that takes
a delay longer than the margin; at saturation the type runs `count` starts per period plus
the margin.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from jobqueue.models import RateLimitStart

# The margin: a share of the period, capped (a 2 s window keeps starts for 2.2 s, a 60 s one
# for 60.25 s).
MARGIN_SHARE = 0.1
MAX_MARGIN = 0.25


def enter(claimed: Iterable[tuple[str, int, str]]) -> None:
    """Claimed jobs of rate-limited types, as (job id, type id, partition value), count in
    every window until they start."""
    rows = [
        RateLimitStart(job_type_id=type_id, job_id=job_id, at=None, partition_key=key)
        for job_id, type_id, key in claimed
    ]
    if rows:
        RateLimitStart.objects.bulk_create(rows)


def started(type_id: int, period: float, now: datetime) -> int:
    """How many starts the window of a type holds now, claims not yet started included."""
    return _recent(type_id, period, now).count()


def started_by_partition(type_id: int, period: float, now: datetime) -> dict[str, int]:
    """The same per partition value of a partitioned type (values with none left out): one
    query, whatever the number of values, reading only the window's rows."""
    counts = _recent(type_id, period, now).values_list("partition_key").annotate(n=Count("id"))
    return {key: int(n) for key, n in counts}


def margin(period: float) -> float:
    """Seconds a start stays in the window past its period (see the module docstring)."""
    return min(MAX_MARGIN, period * MARGIN_SHARE)


def _recent(type_id: int, period: float, now: datetime) -> QuerySet[RateLimitStart]:
    recent = Q(at__isnull=True) | Q(at__gt=now - timedelta(seconds=period + margin(period)))
    return RateLimitStart.objects.filter(recent, job_type_id=type_id)


def mark_started(job_ids: Sequence[str]) -> None:
    """These jobs start now: their code runs next (see the module docstring)."""
    if job_ids:
        RateLimitStart.objects.filter(job_id__in=list(job_ids)).update(at=timezone.now())


def leave(job_ids: Sequence[str]) -> None:
    """The one delete rule: jobs given back unrun leave the window."""
    if job_ids:
        RateLimitStart.objects.filter(job_id__in=list(job_ids)).delete()
