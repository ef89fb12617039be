"""The lifeline: a forked process and its own forks die within seconds of their parent, and a
process of the family forks with no thread of the lifeline's running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import ROOT, wait_for
from tests.processes import descendants, running

pytestmark = [
    pytest.mark.database_independent,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)"),
]

FAMILY = textwrap.dedent(
    """
    import os, sys, time
    from jobqueue.djangoq import lifeline

    lifeline.install(use_prctl={use_prctl}, interval=0.2)
    if os.fork() == 0:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        time.sleep(60)
        os._exit(0)
    print("ready", flush=True)
    time.sleep(60)
    """
)


def family(use_prctl: bool) -> tuple[subprocess.Popen[str], list[int]]:
    """A parent with a child and a grandchild, all tied together by the lifeline."""
    parent = subprocess.Popen(
        [sys.executable, "-c", FAMILY.format(use_prctl=use_prctl)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    assert parent.stdout.readline().strip() == "ready"
    parent.stdout.close()
    kids = wait_for(lambda: (d := descendants(parent.pid)) and len(d) == 2 and d, timeout=10)
    return parent, kids


@pytest.mark.parametrize("use_prctl", [True, False], ids=["prctl", "watcher-only"])
def test_children_and_grandchildren_die_with_the_parent(use_prctl: bool) -> None:
    parent, kids = family(use_prctl)
    try:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        started = time.monotonic()
        wait_for(lambda: not any(running(pid) for pid in kids), timeout=5, interval=0.05, message=f"orphans: {kids}")
        if use_prctl:
            assert time.monotonic() - started < 1  # the kernel's signal, not the watcher's poll
    finally:
        for pid in [parent.pid, *kids]:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_living_parent_keeps_its_children() -> None:
    parent, kids = family(use_prctl=True)
    try:
        time.sleep(0.6)  # three rounds of the watcher
        assert all(running(pid) for pid in kids)
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        wait_for(lambda: not any(running(pid) for pid in kids), timeout=5)


# The OS threads of the process at each fork, counted by a hook that runs after the lifeline's
# own (fork hooks "before" run in the reverse order of their registration), just before fork().
THREADS_AT_FORK = textwrap.dedent(
    """
    import os, threading, time
    from jobqueue.djangoq import lifeline

    counts = []
    os.register_at_fork(before=lambda: counts.append(len(os.listdir("/proc/self/task"))))
    lifeline.install(use_prctl={use_prctl}, interval=0.05)
    if os.fork() == 0:
        time.sleep(0.3)  # the watcher, where there is one, has been round a few times
        before = sorted(t.name for t in threading.enumerate())
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        after = sorted(t.name for t in threading.enumerate())
        print(counts[-1], ",".join(before), ",".join(after), flush=True)
        os._exit(0)
    os.wait()
    """
)


@pytest.mark.parametrize(("use_prctl", "threads"), [(True, "MainThread"), (False, "MainThread,lifeline")])
def test_a_child_forks_from_its_only_thread(use_prctl: bool, threads: str) -> None:
    # Python 3.12 warns that a fork with other threads running may deadlock the child: the
    # cluster's sentinel forks its workers whenever one is replaced.
    done = subprocess.run(
        [sys.executable, "-c", THREADS_AT_FORK.format(use_prctl=use_prctl)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    threads_at_fork, before, after = done.stdout.split()
    assert threads_at_fork == "1"
    # With the kernel's signal in place no watcher runs at all; without it, the watcher is back
    # once the fork is made (the other test shows it still kills the child).
    assert before == after == threads
    assert "DeprecationWarning" not in done.stderr, done.stderr
