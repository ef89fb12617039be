"""Every process a cluster starts dies with the process that started it: no orphans.

When a qcluster's main process is killed (the OOM killer, `kill -9`, an impatient
supervisor), django-q2's sentinel, pusher, monitor and workers would live on as orphans,
still claiming and running jobs, and a replacement would run beside them. `install()`,
called in the main process before the cluster starts, ties each forked process to its
parent:

- Linux's `PR_SET_PDEATHSIG` (through `prctl`): the kernel sends SIGKILL the moment the
  parent dies. The sentinel dies with the main process, and its children with it.
- where that signal is not in place (no `prctl`, or a fork from a thread other than the
  main one, whose exit would otherwise count as the parent's death), a watcher thread
  that checks every `interval` seconds that the parent is still the same (`os.getppid()`
  changes when a process is orphaned).

No thread runs where the kernel's signal does the job: the sentinel forks its workers
(and replaces them whenever one dies or is recycled), and a process that forks while it
has other threads risks a child deadlocked on a lock one of them held (Python 3.12 warns
about it). Where the watcher does run, it stops just before each fork of its process and
starts again after, so that the fork is still made from a single thread.

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


class Watcher:
    """The fallback: a daemon thread that kills this process once `parent` is no longer its
    parent. `pause()` stops the thread and waits for it to end; `start()` starts it again."""

    def __init__(self, parent: int, interval: float) -> None:
        self.parent, self.interval = parent, interval
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        if self._thread is None:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._watch, args=(self._stop,), name="lifeline", daemon=True)
            self._thread.start()

    def pause(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()
            _wait_for_os_thread_exit(thread.native_id)

    def _watch(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            if os.getppid() != self.parent:
                _die()


def _wait_for_os_thread_exit(native_id: int | None, limit: float = 0.5) -> None:
    # `join()` returns once the thread's Python code is done, a moment before the kernel
    # removes the OS thread: a fork in that moment is still made with two threads (Python
    # 3.12 counts them in /proc and warns). Wait, briefly and boundedly, until it is gone.
    if native_id is None or not sys.platform.startswith("linux"):
        return
    task = f"/proc/self/task/{native_id}"
    deadline = time.monotonic() + limit
    while os.path.exists(task) and time.monotonic() < deadline:
        time.sleep(0.0002)


_watcher: Watcher | None = None  # this process's watcher, where one runs


def install(*, use_prctl: bool = True, interval: float = WATCH_INTERVAL) -> None:
    """Tie every process forked from now on by this process (and by its forks, which
    inherit the hooks) to its parent: it is killed when the parent dies."""

    def after_in_child() -> None:
        bind_to_parent(_parent_pid, use_prctl=use_prctl and _forked_from_main_thread, interval=interval)

    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=after_in_child)


def _before_fork() -> None:
    # Runs in the parent just before fork(); the child inherits these values.
    global _parent_pid, _forked_from_main_thread
    _parent_pid = os.getpid()
    _forked_from_main_thread = threading.current_thread() is threading.main_thread()
    if _watcher is not None:
        _watcher.pause()


def _after_fork_in_parent() -> None:
    if _watcher is not None:
        _watcher.start()


def bind_to_parent(parent: int, *, use_prctl: bool = True, interval: float = WATCH_INTERVAL) -> None:
    """In a just-forked child: die as soon as `parent` does."""
    global _watcher
    signalled = use_prctl and set_parent_death_signal(signal.SIGKILL)
    # The parent may have died between fork() and prctl(): the signal would never come.
    if os.getppid() != parent:
        _die()
    # The parent's watcher (a copy of its object: threads do not survive a fork) is not ours.
    _watcher = None
    if not signalled:
        _watcher = Watcher(parent, interval)
        _watcher.start()


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


def _die() -> None:
    # SIGKILL, not a graceful stop: the parent that would coordinate one is gone, and a
    # running job must not outlive its cluster. Its claim is reclaimed like a lost worker's.
    os.kill(os.getpid(), signal.SIGKILL)
