"""The cluster's shared state as chunk sizing reads it: each type's recent time per job."""

from __future__ import annotations

import pytest

from jobqueue.config.effective import type_state
from jobqueue.engine import inflight
from jobqueue.engine.units import unit_size

pytestmark = pytest.mark.django_db


def test_a_workers_first_unit_of_a_type_does_not_size_its_chunks(shared_state: None) -> None:
    state = type_state("short")
    assert unit_size(state) == 1  # no timing yet: one job per unit
    inflight.observe("short", 0.1)  # this process's first unit: its first statements and caches
    assert unit_size(state) == 1
    inflight.observe("short", 0.001)  # a warm one: chunks of CHUNK_BUDGET_MS (50 ms)
    assert unit_size(state) == 50
    inflight.observe("short", 0.005)  # then the average follows, a quarter of the way each time
    assert unit_size(state) == 25
