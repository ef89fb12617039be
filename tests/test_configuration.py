"""The effective configuration: code < record < environment, per value, with its source."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from jobqueue.config.effective import effective_config, type_state
from jobqueue.config.options import Source
from jobqueue.models import JobType
from jobqueue.services import update_job_type

pytestmark = pytest.mark.django_db


def test_code_defaults_with_code_as_source() -> None:
    config = effective_config("always_fails")
    assert config.max_attempts == 3
    assert config.backoff_base == 1.0
    assert config.sources["max_attempts"] is Source.CODE
    assert config.errors == []


def test_record_overrides_code_and_takes_effect_without_restart() -> None:
    before = type_state("echo").config.priority
    record = JobType.objects.get(name="echo")
    update_job_type(record, {"priority": 40, "max_attempts": 4})
    config = effective_config("echo")
    assert (before, config.priority, config.max_attempts) == (0, 40, 4)
    assert config.sources["priority"] is Source.DATABASE
    assert type_state("echo").config.priority == 40  # the cache was cleared by the edit


def test_environment_pin_overrides_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    update_job_type(JobType.objects.get(name="echo"), {"max_attempts": 4})
    monkeypatch.setenv("JOBQUEUE_ECHO_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("JOBQUEUE_ECHO_ENABLED", "false")
    config = effective_config("echo")
    assert config.max_attempts == 7
    assert config.sources["max_attempts"] is Source.ENVIRONMENT
    assert config.pins["max_attempts"] == "JOBQUEUE_ECHO_MAX_ATTEMPTS"
    assert config.enabled is False


def test_pinned_value_cannot_be_edited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_ECHO_PRIORITY", "10")
    with pytest.raises(ValidationError) as caught:
        update_job_type(JobType.objects.get(name="echo"), {"priority": 20})
    assert "JOBQUEUE_ECHO_PRIORITY" in str(caught.value.message_dict["priority"])
    assert JobType.objects.get(name="echo").priority is None  # nothing written


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"priority": 500}, "priority"),
        ({"timeout": 0}, "timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"backoff_jitter": 2.0}, "backoff_jitter"),
        ({"schedule": "not a cron"}, "schedule"),
        ({"settings": {"retries": "many"}}, "settings.retries"),
        ({"settings": {"unknown": 1}}, "settings"),
    ],
)
def test_bad_record_edits_get_field_errors_and_write_nothing(changes: dict, field: str) -> None:
    record = JobType.objects.get(name="typed_settings")
    with pytest.raises(ValidationError) as caught:
        update_job_type(record, changes)
    assert field in caught.value.message_dict
    fresh = JobType.objects.get(name="typed_settings")
    assert (fresh.priority, fresh.timeout, fresh.settings) == (None, None, {})


def test_settings_layers_and_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    update_job_type(JobType.objects.get(name="typed_settings"), {"settings": {"retries": 5, "token": "s3cret"}})
    monkeypatch.setenv("JOBQUEUE_TYPED_SETTINGS_SETTINGS_API_BASE_URL", "https://pinned.example")
    config = effective_config("typed_settings")
    assert config.settings.retries == 5
    assert config.settings.api_base_url == "https://pinned.example"
    assert config.settings.token.get_secret_value() == "s3cret"
    assert str(config.settings.token) == "**********"
    assert config.settings_sources == {
        "api_base_url": Source.ENVIRONMENT,
        "retries": Source.DATABASE,
        "token": Source.DATABASE,
    }


def test_malformed_pin_is_reported_not_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_ECHO_TIMEOUT", "soon")
    config = effective_config("echo")
    assert config.sources["timeout"] is Source.CODE
    assert any("JOBQUEUE_ECHO_TIMEOUT" in e for e in config.errors)


def test_concurrency_zero_means_unlimited_override() -> None:
    update_job_type(JobType.objects.get(name="limited"), {"concurrency": 0})
    config = effective_config("limited")
    assert config.concurrency is None
    assert config.sources["concurrency"] is Source.DATABASE


def test_a_setting_removed_from_code_is_dropped_at_sync_and_the_record_stays_editable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from jobqueue.services import sync_job_types

    # A release removed `max_retries_old` from the settings model; the record still holds it.
    update_job_type(JobType.objects.get(name="typed_settings"), {"settings": {"retries": 5}})
    JobType.objects.filter(name="typed_settings").update(settings={"retries": 5, "max_retries_old": 9})
    with pytest.raises(ValidationError):
        update_job_type(JobType.objects.get(name="typed_settings"), {"settings": {"retries": 6, "max_retries_old": 9}})

    with caplog.at_level("WARNING", logger="jobqueue"):
        sync_job_types()

    assert JobType.objects.get(name="typed_settings").settings == {"retries": 5}
    assert "max_retries_old" in caplog.text
    update_job_type(JobType.objects.get(name="typed_settings"), {"settings": {"retries": 6}})
    assert effective_config("typed_settings").settings.retries == 6
