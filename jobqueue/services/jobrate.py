"""The per-user rate of jobs created by hand (JOBQUEUE `API_ENQUEUE_RATE`), shared by the API
and the admin.

The rate counts jobs, not calls: a bulk enqueue of N costs N, a re-run or a re-queue costs one
per job it creates, in the API and in the admin alike (one budget per user). A window is fixed
(it starts at a multiple of the period): at a window's edge a user may spend up to two
windows' worth in a short time, never more.

The counts live in a table of the database (`JobRateCount`), so every process of the
deployment (each gunicorn worker, each machine) shares one budget and a restart keeps it, with
no new service. Counting is one conditional UPDATE, "add n if the sum stays within the limit",
which the database applies atomically: two workers racing for the last jobs of a window cannot
both be admitted (a cache's get-then-set `incr()` would let them).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.db.models import BigIntegerField, Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Greatest

from jobqueue.config.settings import jobqueue_settings
from jobqueue.exceptions import JobQueueError
from jobqueue.models import JobRateCount

_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

__all__ = ["JobRateExceeded", "Rate", "current_rate", "give_back", "spend", "subject_of"]


@dataclass(frozen=True)
class Rate:
    """`allowed` jobs per fixed window of `period` seconds."""

    allowed: int
    period: int

    @classmethod
    def parse(cls, text: str | None) -> Rate | None:
        """ "600/minute" as Rate(600, 60); None when there is no limit."""
        if not text:
            return None
        count, period = text.split("/")
        return cls(int(count), _SECONDS[period[0]])


class JobRateExceeded(JobQueueError):
    """Creating `jobs` more would go over the user's rate; nothing was counted. `retry_after`
    is the number of seconds until the next window."""

    def __init__(self, message: str, *, jobs: int, retry_after: int) -> None:
        super().__init__(message)
        self.jobs = jobs
        self.retry_after = retry_after


def current_rate() -> Rate | None:
    return Rate.parse(jobqueue_settings.API_ENQUEUE_RATE)


def subject_of(user: object, address: str = "") -> str:
    """Whose budget a request spends: the user's, or the client address's without one."""
    pk = getattr(user, "pk", None)
    return f"user:{pk}" if pk is not None else f"address:{address}"[:100]


def spend(subject: str, jobs: int, rate: Rate | None = None) -> None:
    """Count `jobs` against `subject`'s rate, or raise JobRateExceeded without counting them.
    Called by each action that creates jobs, once it knows how many, before creating any.
    `rate` defaults to the job rate (`API_ENQUEUE_RATE`); other counters (the chainhook
    endpoint's failed authentications) pass their own, under a subject prefix of their own.

    Inside a transaction the count is part of it: a rollback (the jobs were not created after
    all) gives the jobs back."""
    rate = rate if rate is not None else current_rate()
    if rate is None or jobs <= 0:
        return
    now = time.time()
    start = int(now // rate.period) * rate.period
    retry_after = max(1, math.ceil(start + rate.period - now))
    if jobs > rate.allowed:
        raise JobRateExceeded(
            f"{jobs} jobs at once exceed the rate of {rate.allowed} per {rate.period} s; split the request",
            jobs=jobs,
            retry_after=retry_after,
        )
    if _count(subject, rate, start, jobs):
        return
    # No row yet for this subject (its first job), or the window is full: make sure the row
    # exists (a racing process may create it first), then count once more.
    JobRateCount.objects.bulk_create(
        [JobRateCount(subject=subject, period=rate.period, window_start=start, spent=0)], ignore_conflicts=True
    )
    if _count(subject, rate, start, jobs):
        return
    spent = (
        JobRateCount.objects.filter(subject=subject, period=rate.period, window_start=start)
        .values_list("spent", flat=True)
        .first()
    )
    raise JobRateExceeded(
        f"this would create {jobs} job(s); {spent or 0} of the {rate.allowed} allowed per {rate.period} s "
        f"are used; retry in {retry_after} s",
        jobs=jobs,
        retry_after=retry_after,
    )


def _count(subject: str, rate: Rate, start: int, jobs: int) -> bool:
    """Add `jobs` to the subject's window starting at `start` in one statement, if the sum stays
    within the rate (a row still on an older window starts the new one at `jobs`)."""
    older = Q(window_start__lt=start)
    updated = (
        JobRateCount.objects.filter(subject=subject, period=rate.period)
        .filter(older | Q(spent__lte=rate.allowed - jobs))
        # `spent` before `window_start`: MariaDB applies the assignments in order, each seeing
        # the ones before it, so the window must still be the old one when `spent` is computed.
        .update(
            spent=Case(When(older, then=Value(jobs)), default=F("spent") + jobs, output_field=IntegerField()),
            window_start=Greatest(F("window_start"), Value(start), output_field=BigIntegerField()),
        )
    )
    return updated > 0


def give_back(subject: str, jobs: int, rate: Rate) -> None:
    """Return `jobs` spent in the current window (a reservation that turned out not to count)."""
    start = int(time.time() // rate.period) * rate.period
    JobRateCount.objects.filter(subject=subject, period=rate.period, window_start=start).update(
        spent=Greatest(F("spent") - jobs, Value(0), output_field=IntegerField())
    )
