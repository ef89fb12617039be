"""The benchmark harness still runs end to end: `python -m bench --smoke` on the suite's database kind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(360)]


def _target() -> tuple[list[str], dict[str, str]]:
    # The same kind of database as the suite runs on. On PostgreSQL the harness creates its
    # own databases on the same server, never the test one, prefixed with the suite's database
    # name (<name>_bench_jobqueue, ...) so that suites run side by side do not collide.
    from django.db import connection

    if connection.vendor == "mysql":
        # The harness compares on SQLite and PostgreSQL only: on this leg it would repeat the
        # SQLite leg's run (the suite runs on SQLite in every CI run).
        pytest.skip("the benchmark has no MariaDB mode; its SQLite run is the SQLite leg's")
    if connection.vendor != "postgresql":
        return ["--database", "sqlite"], {}
    settings = connection.settings_dict
    server = f"postgres://{settings.get('USER') or 'postgres'}@{settings.get('HOST') or '127.0.0.1'}:{settings.get('PORT') or 5432}/postgres"
    prefix = "".join(c if c.isalnum() else "_" for c in str(settings["NAME"]).lower()) + "_"
    return ["--database", "postgres", "--pg-url", server], {"BENCH_DB_PREFIX": prefix}


@pytest.fixture
def bench_target() -> Iterator[tuple[list[str], dict[str, str]]]:
    """The harness's arguments for this suite's database, and on PostgreSQL its databases
    dropped afterwards: they are the run's scratch, and a server shared by many runs keeps them."""
    target, env = _target()
    yield target, env
    prefix = env.get("BENCH_DB_PREFIX")
    if prefix:
        import psycopg

        with psycopg.connect(target[-1], autocommit=True) as conn:
            names = conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix + "bench_"]
            ).fetchall()
            for (name,) in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _all_ok(reps: list[dict[str, Any]], what: str) -> None:
    assert reps, what
    for rep in reps:
        assert rep["ok"], (what, rep)


def test_smoke_run_completes_every_job_on_both_sides(
    tmp_path: Path, bench_target: tuple[list[str], dict[str, str]]
) -> None:
    output = tmp_path / "smoke.json"
    target, env = bench_target
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", *target, "--output", str(output)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=340,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(output.read_text())
    vendor = target[1]
    runs = results["runs"][vendor]
    assert set(runs) == {"rawq_defaults", "rawq_tuned", "ours"}
    for side, reps in runs.items():
        _all_ok(reps, side)
        for rep in reps:
            assert rep["drain_completed"] == rep["drain_queued"] == 300, (side, rep)
            assert rep["latency_completed"] == 20, (side, rep)
    # I/O-bound drain: 40 jobs on each side, each waiting 200 ms on the delay server.
    io = results["io"][vendor]
    assert set(io) == {"ours_async", "ours_sync", "rawq_tuned_sync"}
    for side, reps in io.items():
        _all_ok(reps, side)
        for rep in reps:
            assert rep["drain_completed"] == rep["drain_queued"] == 40, (side, rep)
            assert rep["drain_per_s"] > 0, (side, rep)
    # Priority under load: 10 CRITICAL jobs, each enqueued while part of the backlog still waited.
    (priority,) = results["priority"][vendor]
    assert priority["ok"], priority
    assert priority["drain_completed"] == 510, priority
    assert len(priority["queued_behind"]) == 10, priority
    assert priority["critical_start_p50_ms"] <= priority["critical_start_p95_ms"], priority
    # Memory: all 40 async jobs were in flight at once when the cluster's RSS was read.
    (memory,) = results["memory"][vendor]
    assert memory["ok"], memory
    assert memory["in_flight_requests"] == memory["in_flight_running_jobs"] == 40, memory
    assert memory["idle"]["rss_mib"] > 0, memory
    assert memory["rss_ratio"] > 0, memory
    targets = {t["target"] for t in results["summary"][vendor]["targets"]}
    assert {"I/O drain B async type, jobs/s", "CRITICAL during a drain, enqueue-to-start p95, ms"} <= targets
    assert results["failures"] == []
