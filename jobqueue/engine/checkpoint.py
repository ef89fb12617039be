"""SQLite's WAL checkpoints, off the claim and start path.

By default the connection whose commit takes SQLite's write-ahead log past 1,000 pages copies
the log into the database file there and then, inside that commit (and with `synchronous`
NORMAL it syncs the file too): tens to hundreds of milliseconds. In a cluster that connection
is as likely as not the pusher's, in the middle of a claim, or a worker's, starting a unit;
an urgent job then waits for the copy. So a cluster's own connections never checkpoint
(`PRAGMA wal_autocheckpoint = 0`, set by qcluster before it forks) and one thread of the
pusher does it for them, every CHECKPOINT_INTERVAL, on a connection of its own: a PASSIVE
checkpoint, which never waits for readers or writers and never blocks them. Other processes
(the web, `manage.py`) keep SQLite's default.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from django.db import connections

logger = logging.getLogger("jobqueue")

# How often the pusher's thread checkpoints (seconds). At a few thousand jobs a second the log
# grows by a few megabytes in that time.
CHECKPOINT_INTERVAL = 1.0
_NO_AUTOCHECKPOINT = "PRAGMA wal_autocheckpoint = 0;"

_started_in: int | None = None  # the pid whose thread runs, if any


def defer_checkpoints() -> list[str]:
    """Make this process's SQLite connections, and those of every process it forks from now
    on, leave checkpoints to `start_checkpointer`. Returns the aliases changed."""
    changed = []
    for alias in connections:
        settings_dict = connections.settings[alias]
        if settings_dict.get("ENGINE") != "django.db.backends.sqlite3":
            continue
        options = settings_dict.setdefault("OPTIONS", {})
        command = str(options.get("init_command") or "").strip()
        if _NO_AUTOCHECKPOINT not in command:
            options["init_command"] = f"{command} {_NO_AUTOCHECKPOINT}".strip()
        connections[alias].close()  # reopened with the command
        changed.append(alias)
    return changed


def start_checkpointer(alias: str = "default") -> bool:
    """Start the checkpointing thread of this process (once per process; SQLite only)."""
    global _started_in
    if _started_in == os.getpid():
        return False
    settings_dict = connections.settings[alias]
    name = str(settings_dict.get("NAME") or "")
    if settings_dict.get("ENGINE") != "django.db.backends.sqlite3" or name in ("", ":memory:") or "mode=memory" in name:
        return False
    _started_in = os.getpid()
    # Never create the file (mode=rw): a database removed meanwhile stays removed.
    uri = Path(name).resolve().as_uri() + "?mode=rw"
    thread = threading.Thread(target=_checkpoint_forever, args=(uri,), name="jobqueue-checkpoint", daemon=True)
    thread.start()
    return True


def _checkpoint_forever(uri: str, interval: float = CHECKPOINT_INTERVAL) -> None:
    conn: Any = None
    while True:
        time.sleep(interval)
        try:
            if conn is None:
                conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:
            # A busy checkpoint lock (another cluster's thread) or a file gone: try next time.
            logger.debug("WAL checkpoint skipped", exc_info=True)
            if conn is not None:
                conn.close()
                conn = None
