"""System checks: bad pins, unknown settings, missing requirements, orphan records."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core import checks
from django.test import override_settings

from jobqueue import job
from jobqueue.conf import jobqueue_settings
from jobqueue.models import JobType
from jobqueue.registry import registry
from tests.conftest import ROOT


def ids(messages: list) -> list[str]:
    return sorted(m.id for m in messages)


def test_malformed_pin_is_error_e001(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_ECHO_MAX_ATTEMPTS", "lots")
    messages = checks.run_checks(tags=["jobqueue"])
    e001 = [m for m in messages if m.id == "jobqueue.E001"]
    assert len(e001) == 1
    assert "JOBQUEUE_ECHO_MAX_ATTEMPTS" in e001[0].msg


def test_pin_naming_no_option_is_warning_w003(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_ECHO_MAX_ATEMPTS", "3")
    assert "jobqueue.W003" in ids(checks.run_checks(tags=["jobqueue"]))


def test_unknown_jobqueue_key_is_e002_and_settings_reload() -> None:
    with override_settings(JOBQUEUE={"DEFAULT_TIMEOUT": 5, "NOT_A_SETTING": 1}):
        assert jobqueue_settings.DEFAULT_TIMEOUT == 5
        assert "jobqueue.E002" in ids(checks.run_checks(tags=["jobqueue"]))
    assert jobqueue_settings.DEFAULT_TIMEOUT == 600


def test_missing_required_type_is_e003() -> None:
    with registry.scope():
        job(name="needs_ghost", requires=["ghost"])(lambda: None)
        messages = [m for m in checks.run_checks(tags=["jobqueue"]) if m.id == "jobqueue.E003"]
    assert len(messages) == 1
    assert "ghost" in messages[0].msg


def test_foreign_broker_is_e004() -> None:
    with override_settings(Q_CLUSTER={"orm": "default"}):
        assert "jobqueue.E004" in ids(checks.run_checks(tags=["jobqueue"]))


@pytest.mark.django_db
def test_orphan_record_is_warning_w001() -> None:
    JobType.objects.create(name="gone_from_code", registered=False)
    messages = checks.run_checks(tags=["jobqueue_records"], databases=["default"])
    assert [m.obj for m in messages if m.id == "jobqueue.W001"] == ["gone_from_code"]


def test_clean_configuration_has_no_errors() -> None:
    assert [m for m in checks.run_checks(tags=["jobqueue"]) if m.is_serious()] == []


def test_malformed_pin_stops_qcluster_naming_the_variable() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "JOBQUEUE_ECHO_TIMEOUT": "-3"}
    result = subprocess.run(
        [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "JOBQUEUE_ECHO_TIMEOUT" in result.stderr
    assert "jobqueue.E001" in result.stderr


def test_scheduled_type_with_required_payload_is_e006() -> None:
    with registry.scope():
        job(name="needs_input_on_schedule", schedule=60)(lambda value: None)
        messages = [m for m in checks.run_checks(tags=["jobqueue"]) if m.id == "jobqueue.E006"]
    assert [m.obj for m in messages] == ["needs_input_on_schedule"]
