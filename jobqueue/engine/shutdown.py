"""The cluster-wide "stopping" flag, shared by the qcluster process, its pusher and its workers.

Created by our `qcluster` command before django-q2 forks its processes, so every process of
the cluster holds the same flag. Set on SIGTERM/SIGINT: the pusher stops claiming, and a
worker handed a job it has not started gives the job back instead of running it.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

_flag: Any = None


def install() -> None:
    global _flag
    context = multiprocessing.get_context("fork")
    _flag = context.Event()


def request() -> None:
    if _flag is not None:
        _flag.set()


def shutting_down() -> bool:
    return _flag is not None and _flag.is_set()
