"""Waking an idle cluster: the SQLite doorbell (`PRAGMA data_version`) against commits of
other connections. (NOTIFY on PostgreSQL and the pickup through a real cluster on both
databases are in tests/integration/test_cluster.py.)"""

from __future__ import annotations

import sys
import threading
import time

import pytest
from django.db import connection, connections

from jobqueue import enqueue
from jobqueue.engine import sql
from jobqueue.engine.wakeup import Listener
from jobqueue.models import Job

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the doorbell is SQLite's; PostgreSQL has NOTIFY"),
]


def _enqueue_from_another_connection(after: float = 0.0) -> threading.Thread:
    """Commit one job on a thread of its own (so its own connection), `after` seconds from now."""

    def run() -> None:
        try:
            time.sleep(after)
            enqueue("noop")
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_commit_of_another_connection_rings_at_once() -> None:
    listener = Listener()
    listener.wait(0.01)  # the counter as it stands
    thread = _enqueue_from_another_connection(after=0.3)
    began = time.monotonic()
    assert listener.wait(20) is True
    waited = time.monotonic() - began
    thread.join()
    assert Job.objects.count() == 1
    assert 0.25 < waited < 5  # woken by the commit, long before the timeout


def test_nothing_committed_means_the_whole_wait_and_no_ring() -> None:
    listener = Listener()
    listener.wait(0.01)
    enqueue("noop")  # this connection's own commit: the cluster's own writes never ring
    began = time.monotonic()
    assert listener.wait(0.3) is False
    assert time.monotonic() - began >= 0.29


def test_a_commit_between_two_waits_rings_at_the_start_of_the_next() -> None:
    """The commit that lands while the cluster claims (between two waits) is not missed."""
    listener = Listener()
    listener.wait(0.01)
    _enqueue_from_another_connection().join()
    began = time.monotonic()
    assert listener.wait(20) is True
    assert time.monotonic() - began < 1
    assert listener.wait(0.05) is False  # and it rings once


def test_a_new_connection_starts_counting_afresh_without_a_false_ring() -> None:
    listener = Listener()
    listener.wait(0.01)
    connection.close()  # the counter of a new connection says nothing about the old one's
    assert listener.wait(0.1) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the doorbell sleeps on inotify on Linux only")
def test_an_idle_doorbell_sleeps_until_the_log_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an idle cluster costs: it looks at the counter when a commit writes the log, not
    200 times a second; and a commit still rings at once."""
    listener = Listener()
    try:
        listener.wait(0.01)
        looks: list[float] = []
        counter = sql.data_version
        monkeypatch.setattr(sql, "data_version", lambda: looks.append(time.monotonic()) or counter())
        assert listener.wait(0.5) is False
        assert len(looks) < 10, len(looks)  # polling every 5 ms would have looked about 100 times
        thread = _enqueue_from_another_connection(after=0.2)
        began = time.monotonic()
        assert listener.wait(20) is True
        assert time.monotonic() - began < 5
        thread.join()
    finally:
        listener.close()
