"""The API's side of the per-user job rate (services.jobrate): a request that would create more
jobs than the user's budget allows is refused with 429 and Retry-After, and creates nothing."""

from __future__ import annotations

from rest_framework.exceptions import Throttled
from rest_framework.request import Request

from jobqueue.services.jobrate import JobRateExceeded, subject_of
from jobqueue.services.jobrate import spend as spend_jobs


def spend(request: Request, jobs: int) -> None:
    """Count `jobs` against the requesting user's rate, or raise Throttled (429, Retry-After)
    without counting them. Called by each view that creates jobs, once it knows how many."""
    try:
        spend_jobs(subject_of(request.user, request.META.get("REMOTE_ADDR", "")), jobs)
    except JobRateExceeded as exc:
        raise Throttled(wait=exc.retry_after, detail=str(exc)) from None
