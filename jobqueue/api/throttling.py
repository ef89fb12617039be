"""The per-user rate of jobs created through the API (JOBQUEUE `API_ENQUEUE_RATE`).

The rate counts jobs, not calls: a bulk enqueue of N costs N, a re-run or a re-queue costs
one per job it creates. The counters live in Django's default cache, which is shared by
every process of the deployment (the database cache by default, Redis when `REDIS_URL` is
set), so two gunicorn workers share one budget and a restart does not reset it. A window is
fixed (it starts at a multiple of the period): at a window's edge a user may spend up to two
windows' worth in a short time, never more.
"""

from __future__ import annotations

import math
import time

from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.request import Request

from jobqueue.config.settings import jobqueue_settings

_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """ "600/minute" as (600, 60); None when there is no limit."""
    if not rate:
        return None
    count, period = rate.split("/")
    return int(count), _SECONDS[period[0]]


def spend(request: Request, jobs: int) -> None:
    """Count `jobs` against the requesting user's rate, or raise Throttled (429, Retry-After)
    without counting them. Called by each view that creates jobs, once it knows how many."""
    limit = parse_rate(jobqueue_settings.API_ENQUEUE_RATE)
    if limit is None or jobs <= 0:
        return
    allowed, period = limit
    now = time.time()
    window = int(now // period)
    who = request.user.pk if request.user and request.user.pk else request.META.get("REMOTE_ADDR", "")
    key = f"jobqueue:jobs:{who}:{period}:{window}"
    cache.add(key, 0, timeout=period + 1)
    try:
        spent = cache.incr(key, jobs)
    except ValueError:  # expired between add and incr: a new window
        cache.add(key, jobs, timeout=period + 1)
        spent = jobs
    if spent <= allowed:
        return
    cache.decr(key, jobs)  # a refused request spends nothing
    wait = math.ceil((window + 1) * period - now)
    if jobs > allowed:
        detail = f"{jobs} jobs in one request exceed the rate of {allowed} per {period} s; split the request"
    else:
        detail = (
            f"this request would create {jobs} job(s); {spent - jobs} of the {allowed} allowed per {period} s "
            f"are used; retry in {wait} s"
        )
    raise Throttled(wait=wait, detail=detail)
