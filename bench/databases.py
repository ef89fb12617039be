"""The benchmark's own databases: PostgreSQL databases the harness creates, SQLite files in a temp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent

# Side -> (settings module, database name). Never the test suite's database.
SIDES = {"ours": ("bench.settings_ours", "bench_jobqueue"), "rawq": ("bench.settings_rawq", "bench_rawq")}
# Prepended to both database names, so that runs sharing one PostgreSQL server do not collide.
PREFIX_VARIABLE = "BENCH_DB_PREFIX"


def settings_module(side: str) -> str:
    return SIDES[side][0]


def database_url(vendor: str, side: str, pg_base: str, sqlite_dir: Path) -> str:
    name = os.environ.get(PREFIX_VARIABLE, "") + SIDES[side][1]
    if vendor == "sqlite":
        return f"sqlite:///{sqlite_dir / (name + '.sqlite3')}"
    parts = urlsplit(pg_base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def recreate(vendor: str, url: str) -> None:
    """Start from an empty database: drop and create on PostgreSQL, delete the files on SQLite."""
    if vendor == "sqlite":
        path = Path(urlsplit(url).path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_env(side: str, url: str, **extra: str) -> dict[str, str]:
    """The environment of every Django process of one side: settings, database, quiet logs."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module(side),
        "DATABASE_URL": url,
        "DEBUG": "false",
        "Q_LOG_LEVEL": "WARNING",
        "JOBQUEUE_LOG_LEVEL": "WARNING",
        **extra,
    }


def migrate(side: str, url: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=django_env(side, url),
        check=True,
    )
