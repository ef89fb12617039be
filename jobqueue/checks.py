"""System checks (IDs jobqueue.E0xx / W0xx): configuration errors stop start-up, including qcluster."""

from __future__ import annotations

import os
from typing import Any

from django.core.checks import CheckMessage, Error, Warning
from django.db import DatabaseError, connections

from jobqueue.config.options import OPTIONS, env_var, resolve
from jobqueue.config.settings import DEFAULTS, django_setting, jobqueue_settings, loaded_settings
from jobqueue.registry import registry

BROKER_CLASS = "jobqueue.djangoq.broker.JobBroker"


def check_environment_pins(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001: a JOBQUEUE_<TYPE>_<OPTION> variable that does not parse. W003: one that names nothing."""
    prefix = jobqueue_settings.ENV_PREFIX
    messages: list[CheckMessage] = []
    for definition in registry:
        config = resolve(
            definition.name,
            definition.defaults,
            {},
            os.environ,
            prefix=prefix,
            settings_model=definition.settings_model,
        )
        for variable in config.pins.values():
            problems = [e for e in config.errors if e.startswith(variable)]
            for problem in problems:
                messages.append(
                    Error(
                        f"environment pin {problem}",
                        hint=f"Fix or unset {variable}.",
                        obj=definition.name,
                        id="jobqueue.E001",
                    )
                )
        type_prefix = env_var(prefix, definition.name, "")
        known = {env_var(prefix, definition.name, o) for o in OPTIONS}
        if definition.settings_model is not None:
            known |= {env_var(prefix, definition.name, f"settings_{f}") for f in definition.settings_model.model_fields}
        for variable in os.environ:
            if (
                variable.startswith(type_prefix)
                and variable not in known
                and not _longer_type(variable, definition.name)
            ):
                messages.append(
                    Warning(
                        f"environment variable {variable} names no option of job type {definition.name!r}",
                        hint=f"Options: {', '.join(sorted(OPTIONS))}; settings: SETTINGS_<FIELD>.",
                        obj=definition.name,
                        id="jobqueue.W003",
                    )
                )
    return messages


def _longer_type(variable: str, name: str) -> bool:
    # JOBQUEUE_SEND_X_... may belong to a type "send_x_y" rather than "send_x".
    prefix = jobqueue_settings.ENV_PREFIX
    return any(
        other.name != name and other.name.startswith(name) and variable.startswith(env_var(prefix, other.name, ""))
        for other in registry
    )


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E002: unknown JOBQUEUE keys. E010: a JOBQUEUE value of the wrong type or out of range.
    E004: django-q2 not running on our broker."""
    loaded = loaded_settings()
    messages: list[CheckMessage] = []
    for key in loaded.unknown_keys:
        messages.append(
            Error(
                f"unknown key {key!r} in the JOBQUEUE setting",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="jobqueue.E002",
            )
        )
    for problem in loaded.problems:
        messages.append(
            Error(
                f"JOBQUEUE[{problem.key!r}] = {problem.value!r} is invalid: {problem.message}",
                hint=f"Correct or remove {problem.key!r} in the JOBQUEUE setting (default {problem.default!r}); "
                "docs/configuration.md lists each key's type and range. Until then the default applies.",
                id="jobqueue.E010",
            )
        )
    q_cluster = django_setting("Q_CLUSTER", {}) or {}
    if q_cluster.get("broker_class") != BROKER_CLASS:
        messages.append(
            Error(
                "Q_CLUSTER['broker_class'] is not the job queue's broker",
                hint=f"Set Q_CLUSTER['broker_class'] = {BROKER_CLASS!r}; django-q2's own brokers "
                "would bypass priorities, leases and the job history.",
                id="jobqueue.E004",
            )
        )
    return messages


def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E020: no (or a malformed) FIELD_ENCRYPTION_KEYS in production. W020: development's derived key."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from jobqueue.secrets import crypto

    if not crypto.configured_keys():
        if settings.DEBUG:
            return [
                Warning(
                    "FIELD_ENCRYPTION_KEYS is not set: stored secrets are encrypted with a key derived from "
                    "SECRET_KEY (development only)",
                    hint=f"Set FIELD_ENCRYPTION_KEYS={crypto.generate_key()} (a new random key) before deploying.",
                    id="jobqueue.W020",
                )
            ]
        return [
            Error(
                "FIELD_ENCRYPTION_KEYS is not set: secrets stored in the database cannot be encrypted or read",
                hint=f"Set FIELD_ENCRYPTION_KEYS to a Fernet key, e.g. {crypto.generate_key()} (keep it apart "
                "from the database backups); see docs/configuration.md.",
                id="jobqueue.E020",
            )
        ]
    try:
        crypto.fernet()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="Correct FIELD_ENCRYPTION_KEYS.", id="jobqueue.E020")]
    return []


def check_sealed_secrets(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E021: a secret of a job type's settings that no key of FIELD_ENCRYPTION_KEYS decrypts."""
    if not databases or "default" not in databases:
        return []
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    from jobqueue.services.encryption import unreadable_secrets

    try:
        unreadable = unreadable_secrets()
    except (DatabaseError, ImproperlyConfigured):
        return []  # not migrated yet, or no key at all (that is E020)
    return [
        Error(
            f"the stored secret {where} cannot be decrypted with any key of FIELD_ENCRYPTION_KEYS; "
            "jobs of that type cannot use it",
            hint="Add the key that encrypted it to FIELD_ENCRYPTION_KEYS (after the current one), "
            "or set the secret again in the admin.",
            obj=where,
            id="jobqueue.E021",
        )
        for where in unreadable
    ]


def check_requires(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E003: a job type requires a job type that is not registered."""
    messages: list[CheckMessage] = []
    for definition in registry:
        for name in definition.requires:
            if name not in registry:
                messages.append(
                    Error(
                        f"job type {definition.name!r} requires job type {name!r}, which is not registered",
                        hint=f"Define {name!r} with @job in an installed app's jobs module, or remove it "
                        f"from requires on {definition.defined_in}.",
                        obj=definition.name,
                        id="jobqueue.E003",
                    )
                )
    return messages


def check_schedules(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E006: a scheduled job type whose payload cannot be empty (schedules enqueue `{}`)."""
    messages: list[CheckMessage] = []
    for definition in registry:
        if definition.defaults.get("schedule") is None:
            continue
        required = [name for name, field in definition.payload_model.model_fields.items() if field.is_required()]
        if required:
            messages.append(
                Error(
                    f"job type {definition.name!r} has a schedule but its payload requires {required}",
                    hint="Give those payload fields defaults: a schedule enqueues jobs with an empty payload.",
                    obj=definition.name,
                    id="jobqueue.E006",
                )
            )
    return messages


def check_records(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W001: records whose code is gone. E005: records whose stored values are invalid."""
    if not databases or "default" not in databases:
        return []
    from jobqueue.config.effective import resolve_for
    from jobqueue.models import JobType

    messages: list[CheckMessage] = []
    try:
        records = list(JobType.objects.all())
    except DatabaseError:
        return []  # not migrated yet: migrate itself runs this check first
    for record in records:
        if record.name not in registry:
            messages.append(
                Warning(
                    f"job type record {record.name!r} has no definition in code; its jobs will not run",
                    hint="Restore its @job definition, or delete the record once its jobs are gone.",
                    obj=record.name,
                    id="jobqueue.W001",
                )
            )
            continue
        config = resolve_for(registry.get(record.name), record)
        for problem in config.errors:
            if not problem.startswith(jobqueue_settings.ENV_PREFIX):
                messages.append(
                    Error(
                        f"job type {record.name!r}: {problem}",
                        hint="Correct the value in the admin (Job types).",
                        obj=record.name,
                        id="jobqueue.E005",
                    )
                )
    return messages


def check_sqlite_wal(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W010: a SQLite database not in WAL mode (readers then block the claims' writes)."""
    messages: list[CheckMessage] = []
    for alias in connections:
        connection = connections[alias]
        if connection.vendor != "sqlite" or not _sqlite_file_exists(connection.settings_dict):
            continue  # a database not created yet is not opened (and so not created) by a check
        mode = sqlite_journal_mode(connection)
        if mode is not None and mode != "wal":
            messages.append(
                Warning(
                    f"SQLite database {alias!r} is in journal mode {mode!r}, not WAL: readers block "
                    "writers, so claims and finishes wait on the dashboard and the API",
                    hint="Add 'PRAGMA journal_mode=WAL;' to DATABASES[...]['OPTIONS']['init_command'] "
                    "(config/settings.py does it for sqlite:// URLs), or run it once on the file.",
                    obj=alias,
                    id="jobqueue.W010",
                )
            )
    return messages


def _sqlite_file_exists(settings_dict: dict[str, Any]) -> bool:
    name = str(settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or "mode=memory" in name:
        return False
    return os.path.exists(name.removeprefix("file:").split("?", 1)[0])


def sqlite_journal_mode(connection: Any) -> str | None:
    """The journal mode of a SQLite connection (lower case), or None if it cannot be read. A
    connection opened here is closed again: qcluster forks its workers after the checks."""
    opened = connection.connection is None
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            row = cursor.fetchone()
    except DatabaseError:
        return None
    finally:
        if opened:
            connection.close()
    return str(row[0]).lower() if row else None


# The databases the engine's SQL (jobqueue.engine.sql) runs on, and the oldest version of each:
# RETURNING (SQLite 3.35), SELECT ... FOR UPDATE SKIP LOCKED (MariaDB 10.6, MySQL 8.0),
# PostgreSQL as Django 5.2 and 6.x require it.
MINIMUM_VERSIONS = {"sqlite": (3, 35), "postgresql": (14,), "mariadb": (10, 6), "mysql": (8, 0)}
SUPPORTED = "SQLite >= 3.35, PostgreSQL >= 14, MariaDB >= 10.6, MySQL >= 8.0"
_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mariadb": "MariaDB", "mysql": "MySQL"}


def unsupported_database(vendor: str, version: tuple[int, ...] | None) -> CheckMessage | None:
    """E030 for a database the job queue cannot run on (`version` None: not known yet)."""
    if vendor not in MINIMUM_VERSIONS:
        return Error(
            f"the job queue does not run on this database ({vendor})",
            hint=f"Supported: {SUPPORTED}.",
            id="jobqueue.E030",
        )
    if version is not None and version < MINIMUM_VERSIONS[vendor]:
        found = ".".join(str(part) for part in version)
        return Error(
            f"the job queue does not run on {_NAMES[vendor]} {found}",
            hint=f"Supported: {SUPPORTED}.",
            id="jobqueue.E030",
        )
    return None


def check_database(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E030: a database backend the job queue does not support (or a SQLite library too old);
    known without connecting."""
    from django.db import connection

    wrapper: Any = connection  # the backend's own attributes (Database, pg_version, mysql_version)
    version = wrapper.Database.sqlite_version_info if connection.vendor == "sqlite" else None
    message = unsupported_database(connection.vendor, version)
    return [message] if message else []


def check_database_version(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E030: a database server too old. It asks the server, so every command that runs the
    checks (qcluster, runserver, migrate) refuses it before starting; an unreachable server
    is left to the command itself to report."""
    from django.db import DatabaseError, connection

    wrapper: Any = connection  # the backend's own attributes (mysql_version, pg_version)
    try:
        if connection.vendor == "mysql":
            vendor = "mariadb" if wrapper.mysql_is_mariadb else "mysql"
            version = tuple(wrapper.mysql_version)
        elif connection.vendor == "postgresql":
            vendor, version = "postgresql", divmod(wrapper.pg_version, 10000)
        else:
            return []  # SQLite's library version is known without connecting (check_database)
    except DatabaseError:
        return []
    message = unsupported_database(vendor, version)
    return [message] if message else []
