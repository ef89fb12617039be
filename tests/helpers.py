"""Test helpers: drain the queue in-process through the real broker and runner."""

from __future__ import annotations

from jobqueue.claim import claim
from jobqueue.runner import run_job

CLUSTER = "tests:0:inprocess"


def drain(limit: int = 1000, batch: int = 10) -> list[str]:
    """Claim and run ready jobs until none is ready; return the statuses run_job reported."""
    statuses: list[str] = []
    while len(statuses) < limit:
        claimed = claim(batch, CLUSTER)
        if not claimed:
            break
        for item in claimed:
            statuses.append(run_job(item.job_id, item.attempt, CLUSTER, item.batch))
    return statuses
