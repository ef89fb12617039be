"""Real `manage.py qcluster` subprocesses, started and stopped by the harness."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


class Cluster:
    """One qcluster process (with its sentinel, pusher, monitor and workers) of the current side."""

    def __init__(self, log_path: Path, workers: int, **env: str) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        full_env = {**os.environ, "Q_WORKERS": str(workers), **env}
        self.started = time.time()
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def descendants(self) -> list[int]:
        """Pids of every process below the cluster's main one (for profiling and clean-up)."""
        out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
        children: dict[int, list[int]] = {}
        for line in out.splitlines():
            if line.strip():
                pid, ppid = (int(x) for x in line.split())
                children.setdefault(ppid, []).append(pid)
        found, frontier = [], [self.proc.pid]
        while frontier:
            kids = children.get(frontier.pop(), [])
            found.extend(kids)
            frontier.extend(kids)
        return found

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; whatever is left after `timeout` seconds is killed."""
        if self.proc.poll() is None:
            family = self.descendants()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                for pid in [*family, self.proc.pid]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode
