"""The database's own ceiling: single-row INSERT commits per second from one connection.

Uses the driver directly (psycopg, sqlite3 with the project's pragmas), so the figure is the
database's and the driver's alone: the reference for how close a queue gets to the limit.
"""

from __future__ import annotations

import sqlite3
import time
from urllib.parse import urlsplit


def commits_per_second(vendor: str, url: str, count: int) -> float:
    if vendor == "sqlite":
        return _sqlite(urlsplit(url).path, count)
    return _postgres(url, count)


def _sqlite(path: str, count: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "DROP TABLE IF EXISTS bench_ceiling; CREATE TABLE bench_ceiling (id INTEGER PRIMARY KEY, v INTEGER)"
        )
        began = time.perf_counter()
        for i in range(count):
            conn.execute("INSERT INTO bench_ceiling (v) VALUES (?)", (i,))  # autocommit: one commit each
        elapsed = time.perf_counter() - began
        conn.execute("DROP TABLE bench_ceiling")
    finally:
        conn.close()
    return count / elapsed


def _postgres(url: str, count: int) -> float:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_ceiling")
        conn.execute("CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY, v integer)")
        began = time.perf_counter()
        for i in range(count):
            conn.execute("INSERT INTO bench_ceiling (v) VALUES (%s)", (i,))
        elapsed = time.perf_counter() - began
        conn.execute("DROP TABLE bench_ceiling")
    return count / elapsed
