"""The rate window of rate-limited job types, in one place: its `RateLimitStart` rows.

A type's `rate_limit` ("count/period") admits at most `count` starts in any `period`. A row
enters the window when the claim takes the job, and moves to the real start when a worker
starts it (or to "now" at each Reclaimer turn while the claim waits for a worker, so that it
does not leave the window before the job starts). The one delete rule: a claim that ends
without running (given back: shutdown, preemption, rate limited, never received) leaves the
window, because the window counts starts. Rows older than a day are pruned by retention.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.utils import timezone

from jobqueue.models import RateLimitStart


def enter(claimed: Iterable[tuple[str, int]], now: datetime) -> None:
    """Claimed jobs of rate-limited types, as (job id, type id), count from their claim on."""
    rows = [RateLimitStart(job_type_id=type_id, job_id=job_id, at=now) for job_id, type_id in claimed]
    if rows:
        RateLimitStart.objects.bulk_create(rows)


def started(type_id: int, period: float, now: datetime) -> int:
    """How many starts the window of a type holds now."""
    return RateLimitStart.objects.filter(job_type_id=type_id, at__gt=now - timedelta(seconds=period)).count()


def move(job_ids: Sequence[str], at: datetime | None = None) -> None:
    """These jobs count as starting at `at` (now): started, or still waiting for a worker."""
    if job_ids:
        RateLimitStart.objects.filter(job_id__in=list(job_ids)).update(at=at or timezone.now())


def leave(job_ids: Sequence[str]) -> None:
    """The one delete rule: jobs given back unrun leave the window."""
    if job_ids:
        RateLimitStart.objects.filter(job_id__in=list(job_ids)).delete()
