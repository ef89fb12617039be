"""How many claimed jobs this cluster holds (waiting in its local queue or running).

A counter in shared memory, created by the cluster's broker before django-q2 forks the
pusher and the workers, so all of them see the same number: the pusher adds what it
claims, a worker takes off what it finishes (or hands back), and reclaiming a dead worker's
job takes that off too. It tells the pusher how much room the cluster has without a query.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

_counter: Any = None


def install() -> None:
    global _counter
    _counter = multiprocessing.get_context("fork").Value("i", 0)


def add(jobs: int) -> None:
    if _counter is not None and jobs:
        with _counter.get_lock():
            _counter.value += jobs


def done(jobs: int) -> None:
    if _counter is not None and jobs:
        with _counter.get_lock():
            _counter.value = max(0, _counter.value - jobs)


def held() -> int:
    return 0 if _counter is None else int(_counter.value)
