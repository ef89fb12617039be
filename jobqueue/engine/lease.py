"""Lease arithmetic, in one place: how long a claim or a started attempt is held.

A job's lease is its timeout plus LEASE_GRACE: a worker's start leases each job of its unit
for that long, and renews the jobs it has not reached when half of it is gone. A claim no
worker has started yet has a timeout of 0 (LEASE_GRACE alone), renewed by its cluster's
Reclaimer while the cluster holds it. Past its lease, any cluster may reclaim the attempt.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from jobqueue.config.effective import type_states
from jobqueue.config.settings import jobqueue_settings


def lease_seconds(timeout: int) -> int:
    """How long a job of this timeout (seconds; 0 for a claim not yet started) is leased."""
    return timeout + jobqueue_settings.LEASE_GRACE


def lease_until(now: datetime, timeout: int) -> datetime:
    return now + timedelta(seconds=lease_seconds(timeout))


def renew_after(timeout: int) -> float:
    """Seconds after which a running unit renews the leases of the jobs it has not recorded."""
    return lease_seconds(timeout) / 2


def longest_timeout() -> int:
    return max((s.config.effective_timeout for s in type_states().values()), default=jobqueue_settings.DEFAULT_TIMEOUT)


def longest_lease() -> float:
    """The lease of the longest-running job type: how long any claim may go unrenewed."""
    return float(lease_seconds(longest_timeout()))
