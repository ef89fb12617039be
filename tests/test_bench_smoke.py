"""The benchmark harness still runs end to end: `python -m bench --smoke` on the suite's database kind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def _target() -> list[str]:
    # The same kind of database as the suite runs on; on PostgreSQL the harness creates its
    # own databases (bench_jobqueue, bench_rawq) on the same server, never the test one.
    from django.db import connection

    if connection.vendor != "postgresql":
        return ["--database", "sqlite"]
    settings = connection.settings_dict
    server = f"postgres://{settings.get('USER') or 'postgres'}@{settings.get('HOST') or '127.0.0.1'}:{settings.get('PORT') or 5432}/postgres"
    return ["--database", "postgres", "--pg-url", server]


def test_smoke_run_completes_every_job_on_both_sides(tmp_path: Path) -> None:
    output = tmp_path / "smoke.json"
    target = _target()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", *target, "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(output.read_text())
    runs = results["runs"][target[1]]
    assert set(runs) == {"rawq_defaults", "rawq_tuned", "ours"}
    for side, reps in runs.items():
        assert reps, side
        for rep in reps:
            assert rep["ok"], (side, rep)
            assert rep["drain_completed"] == rep["drain_queued"] == 300, (side, rep)
            assert rep["latency_completed"] == 20, (side, rep)
    assert results["failures"] == []
