"""Where PostgreSQL's own time goes in a drain: auto_explain's log, summed per statement shape.

    psql -U postgres -c "CREATE ROLE bench SUPERUSER LOGIN" \\
         -c "ALTER ROLE bench SET session_preload_libraries = 'auto_explain'" \\
         -c "ALTER ROLE bench SET auto_explain.log_min_duration = 0" \\
         -c "ALTER ROLE bench SET auto_explain.log_analyze = on" \\
         -c "ALTER ROLE bench SET auto_explain.log_timing = off"
    python -m bench.profile --database postgres --jobs 3000 --pg-url postgres://bench@127.0.0.1:5432
    python -m bench.autoexplain /var/log/postgresql/postgresql-15-main.log --since "2026-12-07 12:22"

Every statement the role's sessions ran is logged with its plan (row counts, no per-node
timing, which would inflate nested loops); this sums the logged durations per statement
shape (literals and id lists folded) and the rows each shape's plans removed by a filter,
the sign of a scan that reads more than it returns. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

_ENTRY = re.compile(r"\n(?=\S.*LOG:  duration: )")


def shape(text: str) -> str:
    """A statement's text with its literals and lists folded, so that calls of any size match."""
    text = re.sub(r"'[^']*'", "?", text)
    text = re.sub(r"\b\d+\b", "N", text)
    text = re.sub(r"(\?::uuid, )+", "..", text)
    text = re.sub(r"\(N(, N)+\)", "(N..)", text)
    return re.sub(r"(\([^()]*\), )+\([^()]*\)", "(..)...", text)  # a VALUES list of rows


def summarize(log: str, since: str = "") -> list[tuple[str, int, float, int]]:
    """(shape, calls, milliseconds, rows removed by filters) per statement shape, costliest first."""
    totals: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0])
    for entry in _ENTRY.split(log):
        if since and entry[: len(since)] < since:
            continue
        took = re.search(r"duration: ([\d.]+) ms", entry)
        query = re.search(r"Query Text: (.*)", entry)
        if not took or not query:
            continue
        row = totals[shape(query.group(1))]
        row[0] += 1
        row[1] += float(took.group(1))
        row[2] += sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", entry))
    found = [(key, int(n), ms, int(removed)) for key, (n, ms, removed) in totals.items()]
    return sorted(found, key=lambda row: -row[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--since", default="", help="only entries logged at or after this time (log's own format)")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    rows = summarize(args.log.read_text(errors="replace"), args.since)
    print(f"total {sum(r[2] for r in rows):,.1f} ms in {sum(r[1] for r in rows):,} statements")
    for text, calls, ms, removed in rows[: args.top]:
        print(f"{ms:9.1f} ms {calls:6d}x removed={removed:8d}  {text[:140]}")


if __name__ == "__main__":
    main()
