"""SQLite's WAL checkpoints happen in the pusher's thread, not inside a claim's or a start's commit."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from django.db import connection, connections

from jobqueue.engine import checkpoint
from tests.conftest import wait_for

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite-specific: PostgreSQL and MariaDB have no WAL file to checkpoint"
)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_clusters_connections_leave_checkpoints_to_the_pusher() -> None:
    options = connections.settings["default"].setdefault("OPTIONS", {})
    before = options.get("init_command")
    try:
        assert checkpoint.defer_checkpoints() == ["default"]
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone()[0] == 0
        checkpoint.defer_checkpoints()  # twice changes nothing more
        assert options["init_command"].count("wal_autocheckpoint") == 1
    finally:
        if before is None:
            options.pop("init_command", None)
        else:
            options["init_command"] = before
        connection.close()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 1000  # other processes keep SQLite's default


def test_the_checkpointer_copies_the_log_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # as a cluster's connections
    writer.execute("CREATE TABLE t (x TEXT)")
    writer.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 2000)
    size = path.stat().st_size  # the rows are in the log only
    assert Path(f"{path}-wal").stat().st_size > 1_000_000
    uri = path.resolve().as_uri() + "?mode=rw"
    threading.Thread(target=checkpoint._checkpoint_forever, args=(uri, 0.05), daemon=True).start()
    wait_for(lambda: path.stat().st_size > size + 1_000_000, timeout=30, message="the log was never checkpointed")
    writer.close()


def test_the_checkpointer_never_creates_a_database(tmp_path: Path) -> None:
    gone = tmp_path / "gone.sqlite3"
    uri = gone.resolve().as_uri() + "?mode=rw"
    thread = threading.Thread(target=checkpoint._checkpoint_forever, args=(uri, 0.01), daemon=True)
    thread.start()
    thread.join(0.2)
    assert thread.is_alive()  # it keeps trying, quietly
    assert not gone.exists()
