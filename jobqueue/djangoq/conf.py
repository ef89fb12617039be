"""`q_cluster()`: the Q_CLUSTER setting a project writes to run django-q2 as the job queue's executor.

Imported from a settings module, so it imports nothing of Django or django-q2.
"""

from __future__ import annotations

from typing import Any

BROKER_CLASS = "jobqueue.djangoq.broker.JobBroker"

# django-q2 insists that "retry" exceed "timeout" (it warns at every start otherwise).
_RETRY_MARGIN = 100

DEFAULTS: dict[str, Any] = {
    "name": "jobqueue",
    # django-q2 is the executor only: its broker is ours (the Job table is the queue), the only
    # function it runs is the engine's entry point, and it keeps no results of its own.
    "broker_class": BROKER_CLASS,
    "workers": 2,
    # Units claimed ahead of a free worker: one, so that a worker never waits for the pusher and
    # an urgent job waits at most one unit more (the claim takes as many units as there is room).
    "queue_limit": 1,
    "poll": 0.05,
    # Used only where django-q2 has no timeout of its own: every package our broker makes
    # carries its job type's timeout, which django-q2's worker uses instead.
    "timeout": 3600,
    # Unused by our broker (it leases each job for its own timeout plus a grace).
    "retry": 3600 + _RETRY_MARGIN,
    "save_limit": -1,
    "ack_failures": True,
    # Retries are the engine's decision (the job type's max_attempts), never django-q2's.
    "max_attempts": 1,
    "scheduler": False,
    "recycle": 1000,
    "catch_up": False,
    "log_level": "WARNING",
    "label": "Cluster internals",
}


def q_cluster(**overrides: Any) -> dict[str, Any]:
    """The Q_CLUSTER dict: the job queue's broker and executor settings, with `overrides` (any
    django-q2 key, e.g. `workers=4`). A `timeout` given without `retry` moves `retry` with it."""
    if "broker_class" in overrides and overrides["broker_class"] != BROKER_CLASS:
        raise ValueError(
            f"q_cluster(): broker_class must stay {BROKER_CLASS!r}; django-q2's own brokers would bypass "
            "priorities, leases and the job history"
        )
    settings = {**DEFAULTS, **overrides}
    if "timeout" in overrides and "retry" not in overrides:
        settings["retry"] = int(settings["timeout"]) + _RETRY_MARGIN
    return settings
