"""The rate window of rate-limited job types, in one place: its `RateLimitStart` rows.

A type's `rate_limit` ("count/period") admits at most `count` starts in any `period`, where
a start is the moment a job's code begins. A row enters the window when the claim takes the
job, with no time: a claim not yet started counts in every window, however long it waits
for a worker (its start can only be later than any window seen so far). When a worker starts
the job the row takes the time read after the start was written, the last moment before
the job's code runs, so a later claim that sees the row leave the window cannot start its
job within `period` of this one's code. The one delete rule: a claim that ends without
running (given back: shutdown, preemption, rate limited, never received) leaves the window,
because the window counts starts. Rows older than a day are pruned by retention.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from jobqueue.models import RateLimitStart


def enter(claimed: Iterable[tuple[str, int]]) -> None:
    """Claimed jobs of rate-limited types, as (job id, type id), count in every window until
    they start."""
    rows = [RateLimitStart(job_type_id=type_id, job_id=job_id, at=None) for job_id, type_id in claimed]
    if rows:
        RateLimitStart.objects.bulk_create(rows)


def started(type_id: int, period: float, now: datetime) -> int:
    """How many starts the window of a type holds now, claims not yet started included."""
    recent = Q(at__isnull=True) | Q(at__gt=now - timedelta(seconds=period))
    return RateLimitStart.objects.filter(recent, job_type_id=type_id).count()


def mark_started(job_ids: Sequence[str]) -> None:
    """These jobs start now: their code runs next (see the module docstring)."""
    if job_ids:
        RateLimitStart.objects.filter(job_id__in=list(job_ids)).update(at=timezone.now())


def leave(job_ids: Sequence[str]) -> None:
    """The one delete rule: jobs given back unrun leave the window."""
    if job_ids:
        RateLimitStart.objects.filter(job_id__in=list(job_ids)).delete()
