"""System checks: bad pins, unknown settings, missing requirements, orphan records."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import checks
from django.db import connections
from django.test import override_settings

from jobqueue import job
from jobqueue.checks import check_sqlite_wal, sqlite_journal_mode
from jobqueue.config.settings import DEFAULTS, JobQueueConfig, expected, jobqueue_settings, loaded_settings
from jobqueue.models import JobType
from jobqueue.registry import registry
from tests.conftest import ROOT


def ids(messages: list) -> list[str]:
    return sorted(m.id for m in messages)


@pytest.mark.database_independent
def test_malformed_pin_is_error_e001(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_ECHO_MAX_ATTEMPTS", "lots")
    messages = checks.run_checks(tags=["jobqueue"])
    e001 = [m for m in messages if m.id == "jobqueue.E001"]
    assert len(e001) == 1
    assert "JOBQUEUE_ECHO_MAX_ATTEMPTS" in e001[0].msg


@pytest.mark.database_independent
def test_pin_naming_no_option_is_warning_w003(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_ECHO_MAX_ATEMPTS", "3")
    assert "jobqueue.W003" in ids(checks.run_checks(tags=["jobqueue"]))


@pytest.mark.database_independent
def test_unknown_jobqueue_key_is_e002_and_settings_reload() -> None:
    with override_settings(JOBQUEUE={"DEFAULT_TIMEOUT": 5, "NOT_A_SETTING": 1}):
        assert jobqueue_settings.DEFAULT_TIMEOUT == 5
        assert "jobqueue.E002" in ids(checks.run_checks(tags=["jobqueue"]))
    assert jobqueue_settings.DEFAULT_TIMEOUT == 600


@pytest.mark.database_independent
def test_missing_required_type_is_e003() -> None:
    with registry.scope():
        job(name="needs_ghost", requires=["ghost"])(lambda: None)
        messages = [m for m in checks.run_checks(tags=["jobqueue"]) if m.id == "jobqueue.E003"]
    assert len(messages) == 1
    assert "ghost" in messages[0].msg


@pytest.mark.database_independent
def test_foreign_broker_is_e004() -> None:
    with override_settings(Q_CLUSTER={"orm": "default"}):
        assert "jobqueue.E004" in ids(checks.run_checks(tags=["jobqueue"]))


@pytest.mark.django_db
def test_orphan_record_is_warning_w001() -> None:
    JobType.objects.create(name="gone_from_code", registered=False)
    messages = checks.run_checks(tags=["jobqueue_records"], databases=["default"])
    assert [m.obj for m in messages if m.id == "jobqueue.W001"] == ["gone_from_code"]


@pytest.mark.database_independent
def test_clean_configuration_has_no_errors() -> None:
    assert [m for m in checks.run_checks(tags=["jobqueue"]) if m.is_serious()] == []


@pytest.mark.database_independent
def test_malformed_pin_stops_qcluster_naming_the_variable() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "JOBQUEUE_ECHO_TIMEOUT": "-3"}
    result = subprocess.run(
        [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "JOBQUEUE_ECHO_TIMEOUT" in result.stderr
    assert "jobqueue.E001" in result.stderr


@pytest.mark.database_independent
def test_scheduled_type_with_required_payload_is_e006() -> None:
    with registry.scope():
        job(name="needs_input_on_schedule", schedule=60)(lambda value: None)
        messages = [m for m in checks.run_checks(tags=["jobqueue"]) if m.id == "jobqueue.E006"]
    assert [m.obj for m in messages] == ["needs_input_on_schedule"]


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("RECLAIM_INTERVAL", "2s", "valid number; expected a number > 0 and <= 3600"),
        ("RECLAIM_INTERVAL", 0, "greater than 0"),
        ("DEFAULT_TIMEOUT", "600", "valid integer"),
        ("DEFAULT_TIMEOUT", 600.5, "valid integer"),
        ("LEASE_GRACE", True, "valid integer"),
        ("HEALTH_FAILURE_RATE", 1.5, "less than or equal to 1"),
        ("HEALTH_WINDOW", "2h", "'15m', '1h', '24h' or '7d'"),
        ("PROMETHEUS_PUBLIC", "yes", "valid boolean"),
        ("NOTIFY_CHANNEL", 'x"; DROP TABLE', "match pattern"),
        ("API_ENQUEUE_RATE", "lots", "match pattern"),
        ("IDLE_POLL_MAX", {"postgresql": -1}, "greater than 0 at ['postgresql']"),
    ],
)
@pytest.mark.database_independent
def test_bad_value_is_e010_naming_key_value_and_fix_and_the_default_applies(
    key: str, value: object, fragment: str
) -> None:
    with override_settings(JOBQUEUE={key: value, "SCHEDULE_CATCH_UP": 3}):
        errors = [m for m in checks.run_checks(tags=["jobqueue"]) if m.id == "jobqueue.E010"]
        assert len(errors) == 1
        assert key in errors[0].msg
        assert repr(value) in errors[0].msg
        assert fragment in errors[0].msg
        assert f"Correct or remove {key!r}" in errors[0].hint
        # The import and the accessor do not fail: the bad key has its default, the others their value.
        assert getattr(jobqueue_settings, key) == DEFAULTS[key]
        assert jobqueue_settings.SCHEDULE_CATCH_UP == 3
    assert loaded_settings().problems == ()


@pytest.mark.database_independent
def test_bad_value_is_logged_for_processes_that_run_no_checks(caplog: pytest.LogCaptureFixture) -> None:
    with override_settings(JOBQUEUE={"HEARTBEAT_INTERVAL": "5s"}):
        assert jobqueue_settings.HEARTBEAT_INTERVAL == 5.0
    assert "JOBQUEUE['HEARTBEAT_INTERVAL'] = '5s' is invalid, using 5.0" in caplog.text
    assert "jobqueue.E010" in caplog.text


@pytest.mark.database_independent
def test_settings_are_one_frozen_typed_object() -> None:
    with override_settings(JOBQUEUE={"RECLAIM_INTERVAL": 1, "IDLE_POLL_MAX": 0.5}):
        config = loaded_settings().config
        assert config.RECLAIM_INTERVAL == 1.0
        assert isinstance(jobqueue_settings.RECLAIM_INTERVAL, float)
        assert isinstance(jobqueue_settings.DEFAULT_TIMEOUT, int)
        assert jobqueue_settings.IDLE_POLL_MAX == 0.5
        with pytest.raises(ValueError, match="frozen"):
            config.RECLAIM_INTERVAL = 5.0  # type: ignore[misc]
        with pytest.raises(AttributeError, match="no setting 'NOPE'"):
            jobqueue_settings.NOPE  # type: ignore[attr-defined]  # noqa: B018


def of_declared_type(value: Any, annotation: Any) -> bool:
    """`value` is of `annotation` exactly: an int is no float, a bool no int."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return of_declared_type(value, args[0])
    if origin is typing.Literal:
        return value in args
    if origin is dict:
        return isinstance(value, dict) and all(of_declared_type(v, args[1]) for v in value.values())
    if args:  # a union
        return any(of_declared_type(value, arg) for arg in args)
    return value is None if annotation is type(None) else type(value) is annotation


@pytest.mark.database_independent
def test_every_setting_is_read_with_its_declared_type_so_no_caller_casts() -> None:
    hints = {key: field.annotation for key, field in JobQueueConfig.model_fields.items()}
    floats = [key for key in DEFAULTS if hints[key] is float]
    assert floats, "some settings are numbers"
    # Whole numbers given for number settings (as a settings file writes them) read as floats.
    given = dict.fromkeys(floats, 1)
    with override_settings(JOBQUEUE=given):
        assert loaded_settings().problems == ()
        for key in DEFAULTS:
            value = getattr(jobqueue_settings, key)
            assert of_declared_type(value, hints[key]), (key, value, hints[key])
        assert jobqueue_settings.SEARCH_TIMEOUT == 1.0
    for key in DEFAULTS:  # and as the suite configures them (defaults for the rest)
        assert of_declared_type(getattr(jobqueue_settings, key), hints[key]), key


@pytest.mark.database_independent
def test_configuration_docs_give_every_key_its_type_and_range() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for key in DEFAULTS:
        assert f"| `{key}` | {expected(key)} |" in text, key


@pytest.mark.database_independent
def test_jobqueue_not_a_dict_is_e010() -> None:
    with override_settings(JOBQUEUE=[("RECLAIM_INTERVAL", 1)]):
        assert "jobqueue.E010" in ids(checks.run_checks(tags=["jobqueue"]))
        assert jobqueue_settings.RECLAIM_INTERVAL == 2.0


def run_manage(*args: str, settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.database_independent
def test_bad_jobqueue_value_fails_manage_check() -> None:
    result = run_manage("check", settings="tests.settings_bad_jobqueue")
    assert result.returncode != 0
    assert "jobqueue.E010" in result.stderr
    assert "RECLAIM_INTERVAL" in result.stderr
    assert "'2s'" in result.stderr


@pytest.mark.database_independent
def test_bad_jobqueue_value_stops_qcluster_with_the_check_id() -> None:
    result = run_manage("qcluster", settings="tests.settings_bad_jobqueue")
    assert result.returncode != 0
    assert "jobqueue.E010" in result.stderr
    assert "RECLAIM_INTERVAL" in result.stderr


@pytest.fixture
def rollback_journal_db(tmp_path, django_db_blocker) -> Iterator[str]:
    """A second SQLite database, in the rollback-journal mode SQLite starts in."""
    path = tmp_path / "rollback.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    alias = "rollback_journal"
    connections.settings[alias] = {
        **connections.settings["default"],
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {},
        "TEST": {"NAME": str(path)},
    }
    with django_db_blocker.unblock():
        try:
            yield alias
        finally:
            connections[alias].close()
            del connections[alias]
            del connections.settings[alias]


@pytest.mark.database_independent
def test_sqlite_database_not_in_wal_mode_is_w010(rollback_journal_db: str) -> None:
    assert sqlite_journal_mode(connections[rollback_journal_db]) == "delete"
    assert connections[rollback_journal_db].connection is None  # a connection the check opened is closed
    warnings = [m for m in check_sqlite_wal() if m.id == "jobqueue.W010"]
    assert [m.obj for m in warnings] == [rollback_journal_db]
    assert "'delete'" in warnings[0].msg
    assert "journal_mode=WAL" in warnings[0].hint


@pytest.mark.database_independent
def test_sqlite_database_in_wal_mode_has_no_warning(rollback_journal_db: str) -> None:
    path = connections.settings[rollback_journal_db]["NAME"]
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").connection.close()
    assert sqlite_journal_mode(connections[rollback_journal_db]) == "wal"
    assert rollback_journal_db not in [m.obj for m in check_sqlite_wal()]


@pytest.mark.database_independent
def test_a_missing_sqlite_file_is_not_created_by_the_check(rollback_journal_db: str, tmp_path) -> None:
    path = tmp_path / "absent.sqlite3"
    connections.settings[rollback_journal_db]["NAME"] = str(path)
    connections[rollback_journal_db].settings_dict["NAME"] = str(path)
    assert rollback_journal_db not in [m.obj for m in check_sqlite_wal()]
    assert not path.exists()


@pytest.mark.parametrize(
    ("settings_module", "fix"),
    [
        ("tests.settings_without_adapter", "Add them, the adapter first"),
        ("tests.settings_adapter_after_djangoq", "Move 'jobqueue.djangoq' before 'django_q'"),
    ],
)
@pytest.mark.database_independent
def test_qcluster_that_would_not_be_ours_is_refused_e008(settings_module: str, fix: str) -> None:
    """django-q2's own qcluster would run our broker without our shutdown (and hang on SIGTERM)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module}
    result = subprocess.run(
        [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "jobqueue.E008" in result.stderr
    assert fix in result.stderr
    assert "'jobqueue.djangoq', 'django_q'" in result.stderr
