"""CPU of an idle cluster: what waiting for work costs when there is none.

    DATABASE_URL=sqlite:////tmp/idle.sqlite3 .venv/bin/python -m bench.idle_cpu --seconds 60
    DATABASE_URL=sqlite:////tmp/idle-main.sqlite3 .venv/bin/python -m bench.idle_cpu --root /work/main --python .venv/bin/python

Migrates the database with the checkout at `--root` (default: this one), starts its
`manage.py qcluster` (2 workers, the project's settings), lets it settle, then reads the
CPU time (utime + stime from /proc) of the cluster's processes over `--seconds` and prints
it as a percentage of one core, in total and per process role. Run it against two
checkouts to compare them. A script, never a timed test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        if line.strip():
            pid, ppid = (int(x) for x in line.split())
            children.setdefault(ppid, []).append(pid)
    found, frontier = [root], [root]
    while frontier:
        kids = children.get(frontier.pop(), [])
        found.extend(kids)
        frontier.extend(kids)
    return found


def _cpu(pid: int) -> tuple[str, float]:
    """(process title, CPU seconds so far) of `pid`."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (FileNotFoundError, ProcessLookupError):
        return "gone", 0.0
    fields = stat.rpartition(")")[2].split()
    return title, (int(fields[11]) + int(fields[12])) / TICKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--settle", type=float, default=10)
    parser.add_argument("--python", help="the interpreter (default: the checkout's .venv)")
    args = parser.parse_args()
    root = Path(args.root)
    python = args.python or str(root / ".venv" / "bin" / "python")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "bench-only-secret-key-not-for-production",
        "FIELD_ENCRYPTION_KEYS": "YmVuY2gtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleTA=",
        "DEBUG": "false",
        "Q_WORKERS": "2",
    }
    subprocess.run([python, "manage.py", "migrate", "--verbosity", "0"], cwd=root, env=env, check=True)
    cluster = subprocess.Popen(
        [python, "manage.py", "qcluster"], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(args.settle)
        pids = _tree(cluster.pid)
        before = {pid: _cpu(pid) for pid in pids}
        began = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - began
        after = {pid: _cpu(pid) for pid in pids}
    finally:
        cluster.send_signal(signal.SIGTERM)
        cluster.wait(60)
    total = 0.0
    for pid in pids:
        title, end = after[pid]
        used = end - before[pid][1]
        total += used
        print(f"{pid:>8} {used / elapsed * 100:6.2f} %  {title[:70]}")
    print(
        f"idle cluster ({len(pids)} processes, {root}): {total / elapsed * 100:.2f} % of one core over {elapsed:.0f} s"
    )


if __name__ == "__main__":
    main()
