"""Test helpers: claim and run in-process through the real engine (see also jobqueue.testing)."""

from __future__ import annotations

from jobqueue.engine.claim import claim as engine_claim
from jobqueue.engine.units import Unit, unit_size
from jobqueue.testing import drain as testing_drain

CLUSTER = "tests:0:inprocess"


def claim(room: int, cluster: str = CLUSTER) -> list[Unit]:
    """Claim up to `room` units as a cluster would (batch and async types in units of many)."""
    return engine_claim(room, cluster, unit_size)


def job_ids(units: list[Unit]) -> list[str]:
    return [job_id for unit in units for job_id, _ in unit.jobs]


def drain(limit: int = 1000, batch: int = 10) -> list[str]:
    """Claim and run ready units until none is ready; return what run_unit reported."""
    return testing_drain(limit, CLUSTER, batch)
