"""The effective configuration of each job type (code < record < environment), cached briefly.

The broker and enqueue read job type configuration on every call; a short cache (the
JOBQUEUE `CONFIG_CACHE_SECONDS`) keeps that to one query a second per process while still
letting an operator's edit take effect without a restart.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from jobqueue.config.options import EffectiveConfig, resolve
from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import JobType
from jobqueue.registry import JobDefinition, registry
from jobqueue.secrets.sealing import open_settings


@dataclass(frozen=True)
class TypeState:
    """A registered job type with its record id and its effective configuration."""

    definition: JobDefinition
    type_id: int
    config: EffectiveConfig


def record_fields(definition: JobDefinition) -> dict[str, object]:
    """What a JobType record mirrors of its definition."""
    return {
        "description": definition.description,
        "version": definition.version,
        "defined_in": definition.defined_in,
        "registered": True,
    }


def resolve_for(definition: JobDefinition, record: JobType | None) -> EffectiveConfig:
    """The effective configuration of one definition, given its record (or none yet)."""
    return resolve(
        definition.name,
        definition.defaults,
        record.option_values() if record is not None else {},
        os.environ,
        prefix=jobqueue_settings.ENV_PREFIX,
        settings_model=definition.settings_model,
        record_settings=open_settings(record.settings) if record is not None else {},  # secrets decrypted here only
    )


def effective_config(name: str) -> EffectiveConfig:
    """Fresh from the database and the environment: for the admin, the API and the checks."""
    definition = registry.get(name)
    return resolve_for(definition, JobType.objects.filter(name=name).first())


class _Snapshot:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, TypeState] = {}
        self._expires = 0.0

    def get(self) -> dict[str, TypeState]:
        now = time.monotonic()
        if now >= self._expires:
            with self._lock:
                if now >= self._expires:
                    self._states = self._load()
                    self._expires = time.monotonic() + jobqueue_settings.CONFIG_CACHE_SECONDS
        return self._states

    def clear(self) -> None:
        with self._lock:
            self._expires = 0.0

    @staticmethod
    def _load() -> dict[str, TypeState]:
        records = {r.name: r for r in JobType.objects.filter(registered=True)}
        states = {}
        for definition in registry:
            record = records.get(definition.name)
            if record is None:
                # Registered since the last sync (migrate and cluster start sync every type).
                record = JobType.objects.get_or_create(name=definition.name, defaults=record_fields(definition))[0]
            states[definition.name] = TypeState(definition, record.pk, resolve_for(definition, record))
        return states


_snapshot = _Snapshot()


def type_states() -> dict[str, TypeState]:
    """Every registered job type that can run, by name (cached)."""
    return _snapshot.get()


def type_state(name: str) -> TypeState:
    states = type_states()
    if name not in states:
        registry.get(name)  # raises UnknownJobTypeError listing the known types
        _snapshot.clear()
        states = type_states()
    return states[name]


def clear_cache(**kwargs: object) -> None:
    """Forget cached configuration (after an edit in this process, or a settings change in tests)."""
    _snapshot.clear()
