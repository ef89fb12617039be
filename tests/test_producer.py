"""The producer's fetch loop: a full cluster still takes one job that outranks every unit it
holds (one unit of one job over its capacity), and only one; nothing of the same priority."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import pytest

from jobqueue import Priority, enqueue, enqueue_many
from jobqueue.engine import inflight
from jobqueue.engine.producer import Producer
from jobqueue.engine.units import Unit
from jobqueue.engine.wakeup import Listener, supports_notify
from tests.helpers import CLUSTER

pytestmark = pytest.mark.django_db(transaction=True)  # NOTIFY is delivered on commit


@pytest.fixture
def producer(shared_state: None) -> Iterator[Producer]:
    """A producer of one worker and no local queue, with the cluster's shared memory."""
    made = Producer(CLUSTER, workers=1, capacity=1, poll=0.05)
    try:
        yield made
    finally:
        made.listener.close()


def _fetch_for(producer: Producer, seconds: float) -> list[Unit]:
    """Turns of the loop until one claims something, or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        units = producer.fetch()
        if units:
            return units
    return []


def test_a_full_cluster_takes_a_job_that_outranks_what_it_holds(producer: Producer) -> None:
    enqueue_many([{"type": "short", "payload": {"ms": 0}}] * 20)
    (first,) = producer.fetch()
    assert producer.room() == 0
    assert _fetch_for(producer, 0.3) == []  # full, and nothing more urgent than what it holds
    critical = enqueue("short", {"ms": 0}, priority=Priority.CRITICAL)
    (urgent,) = _fetch_for(producer, 5)
    # One job, the urgent one: a unit of one, so its start is one row and it waits for no chunk.
    assert [job_id for job_id, _ in urgent.jobs] == [str(critical.pk)]
    assert urgent.priority == Priority.CRITICAL
    assert producer.room() == -1
    # A chunk of lower priority steps aside for it (tests/test_preemption.py).
    assert inflight.outranked(first.priority)
    # One unit over capacity at most: another urgent job waits for a slot.
    enqueue("short", {"ms": 0}, priority=Priority.CRITICAL)
    assert _fetch_for(producer, 0.3) == []


def test_a_full_cluster_takes_nothing_of_the_priority_it_already_holds(producer: Producer) -> None:
    enqueue_many([{"type": "short", "payload": {"ms": 0}, "priority": Priority.HIGH}] * 5)
    (first,) = producer.fetch()
    assert first.priority == Priority.HIGH
    enqueue("short", {"ms": 0}, priority=Priority.HIGH)
    enqueue("short", {"ms": 0}, priority=Priority.LOW)
    assert _fetch_for(producer, 0.3) == []
    assert producer.room() == 0


@pytest.mark.skipif(not supports_notify(), reason="NOTIFY is PostgreSQL's; elsewhere a full cluster looks with a query")
def test_a_notification_carries_its_priority_and_a_more_urgent_one_is_never_held_back() -> None:
    listener = Listener()
    try:
        assert listener.urgent(0.05, Priority.NORMAL) is False  # listening from now on
        enqueue("short", {"ms": 0})
        assert listener.urgent(0.3, Priority.NORMAL) is False  # heard, but nothing more urgent
        # Within the burst window of the one before: a burst of equals is one notification,
        # but not a more urgent job.
        enqueue("short", {"ms": 0}, priority=Priority.CRITICAL)
        assert listener.urgent(5, Priority.NORMAL) is True
    finally:
        listener.close()


@pytest.mark.skipif(not supports_notify(), reason="the LISTEN connection is PostgreSQL's")
def test_a_listener_let_go_without_close_closes_its_connection() -> None:
    # A producer dropped without closing its listener (a broker in a test, a drain) must not
    # leave its LISTEN connection open until the interpreter's exit, nor warn when collected.
    listener = Listener()
    listener.urgent(0.01, Priority.NORMAL)
    conn = listener._conn
    assert conn is not None
    assert not conn.closed
    del listener
    gc.collect()
    assert conn.closed
