"""`python -m bench.partitions` runs end to end at tiny sizes, on a SQLite file of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]


def test_the_three_cases_run_and_report(tmp_path: Path) -> None:
    sizes = "--fanout 5 --fanin-reps 2 --ready 300 --partitions 10 --claims 3 --big 40 --small 3 --small-partitions 3"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.partitions",
            "--database-url",
            f"sqlite:///{tmp_path / 'bench.sqlite3'}",
            "--log",
            str(tmp_path / "cluster.log"),
            *sizes.split(),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert len(report["fanin"]["chord_start_after_last_dependency_ms"]) == 2
    assert all(ms >= 0 for ms in report["fanin"]["chord_start_after_last_dependency_ms"])
    assert report["claims"]["partitioned_claim_p50_ms"] > 0
    assert report["claims"]["rate_ratio"] > 0
    # Round robin: three turns for each small partition, so the big one started about three
    # jobs (one per turn, give or take one) before the last small partition's last.
    assert report["fairness"]["big_started_before_last_small"] <= 4
