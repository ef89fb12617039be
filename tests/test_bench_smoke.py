"""The benchmark harness still runs end to end: `python -m bench --smoke` on SQLite, as CI runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_smoke_run_completes_every_job_on_both_sides(tmp_path: Path) -> None:
    output = tmp_path / "smoke.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--database", "sqlite", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(output.read_text())
    runs = results["runs"]["sqlite"]
    assert set(runs) == {"rawq_defaults", "rawq_tuned", "ours"}
    for side, reps in runs.items():
        assert reps, side
        for rep in reps:
            assert rep["ok"], (side, rep)
            assert rep["drain_completed"] == rep["drain_queued"] == 300, (side, rep)
            assert rep["latency_completed"] == 20, (side, rep)
    assert results["failures"] == []
