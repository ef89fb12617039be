"""Every process a cluster starts dies with the process that started it: no orphans.

When a qcluster's main process is killed (the OOM killer, `kill -9`, an impatient
supervisor), django-q2's sentinel, pusher, monitor and workers would live on as orphans,
still claiming and running jobs, and a replacement would run beside them. `install()`,
called in the main process before the cluster starts, ties each forked process to its
parent twice over:

- Linux's `PR_SET_PDEATHSIG` (through `prctl`): the kernel sends SIGKILL the moment the
  parent dies. The sentinel dies with the main process, and its children with it.
- a watcher thread that checks every `interval` seconds that the parent is still the same
  (`os.getppid()` changes when a process is orphaned): the fallback where `prctl` is
  missing or was never set (a fork from a thread other than the main one, whose exit
  would otherwise count as the parent's death).

Jobs the killed processes had claimed are then given back by the reclaimer of the
surviving or replacement clusters (lease expiry), like any other lost worker.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

# From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1

# How often the fallback watcher looks at its parent (seconds).
WATCH_INTERVAL = 1.0

_parent_pid = 0
_forked_from_main_thread = True


def install(*, use_prctl: bool = True, interval: float = WATCH_INTERVAL) -> None:
    """Tie every process forked from now on by this process (and by its forks, which
    inherit the hooks) to its parent: it is killed when the parent dies."""

    def after_in_child() -> None:
        bind_to_parent(_parent_pid, use_prctl=use_prctl and _forked_from_main_thread, interval=interval)

    os.register_at_fork(before=_note_parent, after_in_child=after_in_child)


def _note_parent() -> None:
    # Runs in the parent just before fork(); the child inherits these values.
    global _parent_pid, _forked_from_main_thread
    _parent_pid = os.getpid()
    _forked_from_main_thread = threading.current_thread() is threading.main_thread()


def bind_to_parent(parent: int, *, use_prctl: bool = True, interval: float = WATCH_INTERVAL) -> None:
    """In a just-forked child: die as soon as `parent` does."""
    if use_prctl:
        set_parent_death_signal(signal.SIGKILL)
    # The parent may have died between fork() and prctl(): the signal would never come.
    if os.getppid() != parent:
        _die()
    watcher = threading.Thread(target=_watch, args=(parent, interval), name="lifeline", daemon=True)
    watcher.start()


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux only).

    Returns False where that is not available; the watcher thread then does the job."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            _die()


def _die() -> None:
    # SIGKILL, not a graceful stop: the parent that would coordinate one is gone, and a
    # running job must not outlive its cluster. Its claim is reclaimed like a lost worker's.
    os.kill(os.getpid(), signal.SIGKILL)
