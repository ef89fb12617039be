"""Waking idle clusters: NOTIFY on enqueue and LISTEN while idle on PostgreSQL; on SQLite a
doorbell (`PRAGMA data_version`, looked at when the database's write-ahead log is written, or
every millisecond or so); a sleep elsewhere."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import sys
import time
import weakref
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections

from jobqueue.config.settings import jobqueue_settings
from jobqueue.engine import sql

logger = logging.getLogger("jobqueue")

# A burst of enqueues from one process needs one wake-up, not one each: a cluster woken a
# moment ago is still polling at its shortest interval and will see the rest. Never for a job
# more urgent than the last one notified: a full cluster listens for those (`urgent()`).
_NOTIFY_MIN_INTERVAL = 0.02
_UNKNOWN = -(1 << 31)  # a notification without a priority (a dependency made a job ready)
_last_notify = 0.0
_last_priority = _UNKNOWN
# How often an idle cluster on SQLite looks at the database's commit counter: every
# millisecond for a while after it last claimed work (work comes in bursts), then less
# often. Not after a ring alone: other processes commit now and then without enqueueing
# (django-q2's sentinel saves its stats every half second, in the database cache by
# default). Each look costs some 40 us of CPU with its sleep (docs/performance.md).
DOORBELL_INTERVAL = 0.001
DOORBELL_BRISK_SECONDS = 2.0
DOORBELL_IDLE_INTERVAL = 0.005
# On Linux the doorbell sleeps until the write-ahead log file is written (inotify), so an idle
# cluster looks only when some connection commits; then every DOORBELL_INTERVAL for this long,
# since a commit writes its frames to the log a moment before it bumps the counter.
DOORBELL_SETTLE = 0.02
_IN_MODIFY, _IN_DELETE_SELF, _IN_MOVE_SELF, _IN_IGNORED = 0x2, 0x400, 0x800, 0x8000


def supports_notify() -> bool:
    return sql.has_notify()


def notify(priority: int | None = None) -> None:
    """Tell listening clusters that work arrived, of this priority at most (its payload);
    delivered when the enclosing transaction commits."""
    global _last_notify, _last_priority
    if not sql.has_notify():
        return
    now = time.monotonic()
    rank = _UNKNOWN if priority is None else priority
    if now - _last_notify < _NOTIFY_MIN_INTERVAL and not connection.in_atomic_block and rank <= _last_priority:
        return
    _last_notify, _last_priority = now, rank
    sql.notify(jobqueue_settings.NOTIFY_CHANNEL, "" if priority is None else str(priority))


class Listener:
    """Waits for a NOTIFY on its own dedicated connection (never Django's shared one) on
    PostgreSQL; on SQLite for a commit of another connection (`PRAGMA data_version`)."""

    def __init__(self) -> None:
        self._conn: Any = None
        self._closer: Any = None
        # SQLite: the commit counter last seen, and the connection it was read on; until when
        # the doorbell is looked at every DOORBELL_INTERVAL.
        self._seen: tuple[object, int] | None = None
        self._brisk_until = 0.0
        self._wal: _WalWatch | None = None
        self._wal_retry_at = 0.0

    def _connect(self) -> Any:
        if self._conn is None or self._conn.closed:
            import psycopg

            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            params.pop("prepare_threshold", None)
            self._conn = psycopg.connect(**params, autocommit=True)
            # A listener dropped without close() (a producer a test or a drain lets go) still
            # closes its connection: the finalizer holds it, so it is never collected open.
            self._closer = weakref.finalize(self, self._conn.close)
            self._conn.execute(f'LISTEN "{jobqueue_settings.NOTIFY_CHANNEL}"')
        return self._conn

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds; return True if woken by a notification."""
        if not supports_notify():
            return self._doorbell(timeout)
        try:
            conn = self._connect()
            return any(True for _ in conn.notifies(timeout=timeout, stop_after=1))
        except Exception:  # a lost listener must never stop claiming: fall back to sleeping
            logger.warning("LISTEN connection failed; polling instead", exc_info=True)
            self.close()
            time.sleep(timeout)
            return False

    def urgent(self, timeout: float, above: int) -> bool:
        """PostgreSQL: wait up to `timeout` seconds for a notification of work more urgent than
        `above` (or of unknown priority); True if one came. A full cluster listens this way
        instead of sleeping: what it reads is only a hint that the claim's order then checks.
        Elsewhere: sleep, and False."""
        if not supports_notify():
            time.sleep(timeout)
            return False
        try:
            conn = self._connect()
            return any(_priority(n.payload) > above for n in conn.notifies(timeout=timeout))
        except Exception:  # as in wait(): a lost listener must never stop the cluster
            logger.warning("LISTEN connection failed; polling instead", exc_info=True)
            self.close()
            time.sleep(timeout)
            return False

    def _doorbell(self, timeout: float) -> bool:
        """SQLite: return True as soon as another connection has committed since the last look
        (an enqueue, or a worker's finish that may free a slot of a limited type), False after
        `timeout`. The counter is compared with the one seen at the end of the previous wait,
        so a commit that landed while the cluster was claiming still rings. Looked at every
        millisecond for DOORBELL_BRISK_SECONDS after the cluster last claimed work (`worked()`),
        every DOORBELL_IDLE_INTERVAL after that; on Linux instead only when the write-ahead log
        is written (any connection's commit, this one's too) and for DOORBELL_SETTLE after.
        Elsewhere: sleep."""
        deadline = time.monotonic() + timeout
        seen = self._seen
        settle_until = 0.0
        while True:
            current = sql.data_version()
            if current is None:
                time.sleep(max(0.0, deadline - time.monotonic()))
                return False
            self._seen = current
            now = time.monotonic()
            # A new connection counts afresh: its first value says nothing about commits.
            if seen is not None and seen[0] is current[0] and seen[1] != current[1]:
                return True
            seen = current
            left = deadline - now
            if left <= 0:
                return False
            wal = self._wal_watch(now) if now >= settle_until else None
            if wal is not None:
                if wal.wait(left):
                    settle_until = time.monotonic() + DOORBELL_SETTLE
                elif wal.gone:
                    self._close_wal()
                continue
            interval = DOORBELL_INTERVAL if now < self._brisk_until or now < settle_until else DOORBELL_IDLE_INTERVAL
            time.sleep(min(interval, left))

    def _wal_watch(self, now: float) -> _WalWatch | None:
        """The watch on the database's `-wal` file, made on first use (None where there is
        none: not Linux, no such file; tried again a second later)."""
        if self._wal is None and now >= self._wal_retry_at:
            self._wal_retry_at = now + 1.0
            name = str(connections[DEFAULT_DB_ALIAS].settings_dict.get("NAME") or "")
            with contextlib.suppress(OSError, AttributeError):
                self._wal = _WalWatch(f"{name}-wal")
        return self._wal

    def _close_wal(self) -> None:
        if self._wal is not None:
            self._wal.close()
            self._wal = None

    def worked(self) -> None:
        """The cluster claimed work: look at the doorbell every millisecond for a while."""
        self._brisk_until = time.monotonic() + DOORBELL_BRISK_SECONDS

    def close(self) -> None:
        self._close_wal()
        if self._conn is not None:
            try:
                self._closer.detach()
                self._conn.close()
            finally:
                self._conn = None


def _priority(payload: str) -> float:
    """The priority a notification carries; without one (or an old sender's), more urgent than any."""
    try:
        return int(payload)
    except ValueError:
        return float("inf")


class _WalWatch:
    """Linux's inotify on one file: `wait()` returns when it is written. SQLite in WAL mode
    writes every commit's pages to the `-wal` file, so an idle doorbell sleeps in the kernel
    instead of looking 200 times a second."""

    def __init__(self, path: str) -> None:
        if not sys.platform.startswith("linux") or not os.path.exists(path):
            raise OSError(f"no inotify watch for {path}")
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if libc.inotify_add_watch(fd, os.fsencode(path), _IN_MODIFY | _IN_DELETE_SELF | _IN_MOVE_SELF) < 0:
            os.close(fd)
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
        self.fd, self.gone = fd, False

    def wait(self, timeout: float) -> bool:
        """Up to `timeout` seconds; True if the file was written meanwhile. `gone` is set when
        the file was removed or renamed (the watch then ends: make a new one)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        written = False
        with contextlib.suppress(BlockingIOError):
            data = os.read(self.fd, 4096)
            # struct inotify_event: wd (int), mask (uint32), cookie, len, then `len` name bytes.
            offset = 0
            while offset + 16 <= len(data):
                mask = int.from_bytes(data[offset + 4 : offset + 8], sys.byteorder)
                written |= bool(mask & _IN_MODIFY)
                self.gone |= bool(mask & (_IN_DELETE_SELF | _IN_MOVE_SELF | _IN_IGNORED))
                offset += 16 + int.from_bytes(data[offset + 12 : offset + 16], sys.byteorder)
        return written

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
