"""Regenerate the screenshots of docs/admin.md: `.venv/bin/python -m bench.screenshots`.

Runs the admin's browser tests (headless Chromium, SQLite, a throwaway test database) with
JQ_SCREENSHOTS=docs, so that the console's tests write their pictures into docs/, and copies the
dashboard's from artifacts/. A command, not a benchmark: it measures nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = [
    "tests/admin/test_console_browser.py",
    "tests/admin/test_browser.py::test_dashboard_draws_its_charts_with_data",
]
PICTURES = ["dashboard.png", "failures.png", "failure-group.png", "jobs.png", "jobtype.png", "clusters.png"]


def main() -> int:
    env = {
        **os.environ,
        "JQ_SCREENSHOTS": "docs",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "screenshots-only"),
        "DEBUG": "false",
        "DATABASE_URL": f"sqlite:///{ROOT / 'db' / 'screenshots.sqlite3'}",
        # Its own test database file, so that it never collides with a test run in progress.
        "TEST_SQLITE_PATH": str(ROOT / "db" / "test-screenshots.sqlite3"),
    }
    (ROOT / "db").mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT, env=env)
    if done.returncode:
        print("the browser tests failed; the screenshots were not all regenerated", file=sys.stderr)
        return done.returncode
    shutil.copyfile(ROOT / "artifacts" / "dashboard.png", ROOT / "docs" / "dashboard.png")
    for name in PICTURES:
        print(f"docs/{name}: {(ROOT / 'docs' / name).stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
