"""The PostgreSQL race's own plumbing, without any peer installed (CI has no time to make their
virtualenvs): the job body's datagrams reach the harness's tally, and ratios are taken per round."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from bench import race, race_peer

pytestmark = pytest.mark.database_independent


def test_a_job_body_reports_its_start_and_finish_to_the_tally() -> None:
    tally = race.Tally()
    try:
        race_peer.configure(tally.port)
        began = time.time()
        for _ in range(3):
            asyncio.run(race_peer.body("sleep", 1))
        race_peer.sync_body("noop", None)
        deadline = time.monotonic() + 5
        while tally.count < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert tally.count == 4
        assert began <= tally.first_start <= tally.first <= tally.last
    finally:
        race_peer.close()
        tally.close()


def test_ratios_are_taken_within_each_round_and_a_failed_run_has_none() -> None:
    cases = {
        "noop": {
            "ours": [{"ok": True, "drain_per_s": 100.0}, {"ok": True, "drain_per_s": 200.0}],
            "pgqueuer": [{"ok": True, "drain_per_s": 300.0}, {"ok": False, "error": "3 of 5 jobs finished"}],
        }
    }
    summary = race.summarize(cases)["noop"]
    assert summary["pgqueuer"]["ratio_to_ours"] == [3.0, None]
    assert summary["pgqueuer"]["median_ratio"] == 3.0
    assert summary["ours"]["median_per_s"] == 150.0
    assert race.failures({"cases": cases}) == ["race noop pgqueuer run 2: 3 of 5 jobs finished"]
    shown = race.table(
        {"summary": {"noop": summary}, "history": {"ours": "Job + Attempt rows"} | dict.fromkeys(race.PEERS, "rows")}
    )
    assert "| this queue (PostgreSQL) | Job + Attempt rows | 150/s |" in shown
    assert "300/s (3.00, -" in shown
    # Sides this run did not have get no row.
    assert "chancy" not in shown
    assert "SQLite" not in shown


def test_this_queue_on_sqlite_is_a_side_of_its_own_set_against_postgresql() -> None:
    cases = {
        "noop": {
            "ours": [{"ok": True, "drain_per_s": 1000.0}],
            race.OURS_SQLITE: [{"ok": True, "drain_per_s": 4000.0}],
            "pgqueuer": [{"ok": True, "drain_per_s": 2000.0}],
        },
        "sleep_500": {"ours": [{"ok": True, "drain_per_s": 900.0}], "pgqueuer": [{"ok": True, "drain_per_s": 450.0}]},
    }
    summary = race.summarize(cases)
    assert summary["noop"][race.OURS_SQLITE]["ratio_to_ours"] == [4.0]
    shown = race.table({"summary": summary, "history": {"ours": "Job + Attempt rows", race.OURS_SQLITE: "same"}})
    assert "| this queue (SQLite) | same | 4,000/s (4.00 x) | — |" in shown
    assert "| pgqueuer |  | 2,000/s (2.00 x) | 450/s (0.50 x) |" in shown


def test_a_drains_cpu_is_read_over_its_own_window() -> None:
    meter = race.CpuMeter()
    try:
        began = time.time()
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:  # busy: this process alone keeps a core busy
            pass
        ended = time.time()
        time.sleep(0.1)
        busy = meter.between(began, ended)
        assert busy is not None
        assert 0.2 <= busy <= 0.3 * (os.cpu_count() or 1) + 0.05
        assert meter.between(ended, began) is None
        result = {"ok": True, "window": [began, ended]}
        race.cpu_per_job(meter, result, 100)
        assert result["cpu_ms_per_job"] == pytest.approx(busy * 10, rel=0.2)
    finally:
        meter.close()
