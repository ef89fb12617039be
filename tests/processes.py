"""Looking at live processes from the tests: descendants of a pid, and whether a pid still runs."""

from __future__ import annotations

import subprocess
from pathlib import Path


def descendants(root: int) -> list[int]:
    """Pids of every live process below `root` (children, grandchildren, ...)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    parents: dict[int, list[int]] = {}
    for line in out.splitlines():
        if line.strip():
            pid, ppid = (int(x) for x in line.split())
            parents.setdefault(ppid, []).append(pid)
    found, frontier = [], [root]
    while frontier:
        kids = parents.get(frontier.pop(), [])
        found.extend(kids)
        frontier.extend(kids)
    return [pid for pid in found if running(pid)]


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a dead process its new parent has not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state follows the parenthesised command name, which may itself hold spaces.
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
