"""A cluster's processes keep one persistent database connection each, never the web's pool.

The settings give the web process a bounded connection pool on PostgreSQL. A cluster's
processes are single-threaded and busy: a pool per process would only add connections
(its `min_size`) and a pool's threads do not survive the fork of the sentinel and workers.
`qcluster` calls `use_persistent_connections()` before anything forks.
"""

from __future__ import annotations

from django.db import connections


def use_persistent_connections(max_age: int) -> list[str]:
    """Turn the connection pool off in this process and the processes it forks from now on;
    connections are kept `max_age` seconds instead. Returns the aliases that had a pool."""
    changed = []
    for alias in connections:
        settings_dict = connections.settings[alias]
        options = settings_dict.get("OPTIONS") or {}
        if not options.get("pool"):
            continue
        wrapper = connections[alias]
        wrapper.close()
        close_pool = getattr(wrapper, "close_pool", None)
        if close_pool is not None:
            close_pool()
        # The wrappers of every thread and of every forked process read this same dict.
        options.pop("pool")
        settings_dict["CONN_MAX_AGE"] = max_age
        changed.append(alias)
    return changed
