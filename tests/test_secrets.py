"""Secret settings of job types: masked everywhere, sealed in the database, rotated with the key."""

from __future__ import annotations

import importlib
import io
import json
from typing import Annotated

import pydantic
import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from jobqueue.config.effective import effective_config
from jobqueue.models import JobType
from jobqueue.secrets.sealing import MASK, keep_masked, mask, masked_settings, open_settings, secret_fields
from jobqueue.services import update_job_type
from tests.models import Credential
from tests.test_crypto import raw_column

pytestmark = pytest.mark.django_db

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
SECRET = "xoxb-very-secret-bearer"


def raw_settings(name: str) -> str:
    """JobType.settings as the database holds it, read with a raw cursor."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT settings FROM jobqueue_jobtype WHERE name = %s", [name])
        value = cursor.fetchone()[0]
    return value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("s3cret", MASK),
        (pydantic.SecretStr("s3cret"), MASK),
        ({"$enc": "gAAAA..."}, MASK),
        ("", ""),
        (pydantic.SecretStr(""), ""),
        (None, ""),
    ],
)
def test_mask_shows_whether_a_secret_is_set_never_what_it_is(value: object, shown: str) -> None:
    assert mask(value) == shown


def test_secret_fields_are_found_through_optional_and_annotated() -> None:
    class Settings(pydantic.BaseModel):
        plain: str = ""
        token: pydantic.SecretStr = pydantic.SecretStr("")
        maybe: pydantic.SecretStr | None = None
        noted: Annotated[pydantic.SecretStr, pydantic.Field(description="x")] = pydantic.SecretStr("")

    assert secret_fields(Settings) == {"token", "maybe", "noted"}
    assert secret_fields(None) == set()


def test_a_saved_secret_is_sealed_in_the_database_and_opened_for_the_job() -> None:
    update_job_type(JobType.objects.get(name="typed_settings"), {"settings": {"token": SECRET, "retries": 4}})
    raw = raw_settings("typed_settings")
    assert SECRET not in raw
    assert "$enc" in raw
    assert "gAAAA" in raw
    config = effective_config("typed_settings")
    assert config.settings.token.get_secret_value() == SECRET
    assert config.settings.retries == 4
    assert config.errors == []


def test_the_mask_sent_back_keeps_the_sealed_value_and_display_masks_it() -> None:
    record = update_job_type(JobType.objects.get(name="typed_settings"), {"settings": {"token": SECRET}})
    model = secret_model()
    assert masked_settings(model, record.settings) == {"token": MASK}
    kept = keep_masked(model, record.settings, {"token": MASK, "retries": 7})
    update_job_type(record, {"settings": kept})
    assert SECRET not in raw_settings("typed_settings")
    assert effective_config("typed_settings").settings.token.get_secret_value() == SECRET
    assert effective_config("typed_settings").settings.retries == 7


def secret_model() -> type[pydantic.BaseModel]:
    from jobqueue.registry import registry

    model = registry.get("typed_settings").settings_model
    assert model is not None
    return model


def test_rotation_re_encrypts_everything_and_the_old_key_can_then_go() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        update_job_type(JobType.objects.get(name="typed_settings"), {"settings": {"token": SECRET}})
        credential = Credential.objects.create(name="hook", secret="https://hooks.example/abc")
        before = raw_settings("typed_settings"), raw_column(Credential, "secret", credential.pk)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        call_command("jobqueue", "rotate-key", stdout=(out := io.StringIO()))
    assert "jobqueue_tests.Credential.secret: 1 re-encrypted" in out.getvalue()
    assert "['typed_settings']" in out.getvalue()
    after = raw_settings("typed_settings"), raw_column(Credential, "secret", credential.pk)
    assert after[0] != before[0]
    assert after[1] != before[1]
    assert SECRET not in after[0]
    assert "hooks.example" not in str(after[1])
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):  # the old key dropped
        assert effective_config("typed_settings").settings.token.get_secret_value() == SECRET
        assert Credential.objects.get(pk=credential.pk).secret == "https://hooks.example/abc"
        assert ids(checks.run_checks(tags=["jobqueue_records"], databases=["default"])) == []


def test_rotation_without_the_old_key_names_what_it_cannot_read_and_rotates_the_rest() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        lost = Credential.objects.create(name="lost", secret="old-secret")
    fine = Credential.objects.create(name="fine", secret="current-secret")
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[NEW, *settings_keys()]),
        pytest.raises(CommandError, match="could not be decrypted"),
    ):
        call_command("jobqueue", "rotate-key", stdout=io.StringIO(), stderr=(err := io.StringIO()))
    assert f"jobqueue_tests.Credential.secret of row {lost.pk}" in err.getvalue()
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        assert Credential.objects.get(pk=fine.pk).secret == "current-secret"


def settings_keys() -> list[str]:
    from django.conf import settings

    return list(settings.FIELD_ENCRYPTION_KEYS)


def test_rotation_seals_secrets_left_in_clear() -> None:
    JobType.objects.filter(name="typed_settings").update(settings={"token": SECRET, "retries": 3})
    call_command("jobqueue", "rotate-key", stdout=io.StringIO())
    assert SECRET not in raw_settings("typed_settings")
    assert effective_config("typed_settings").settings.token.get_secret_value() == SECRET


def test_the_migration_seals_records_stored_in_clear_and_reverses() -> None:
    migration = importlib.import_module("jobqueue.migrations.0007_encrypt_settings_secrets")
    JobType.objects.filter(name="typed_settings").update(settings={"token": SECRET, "retries": 3})
    migration.seal(apps, None)
    assert SECRET not in raw_settings("typed_settings")
    assert JobType.objects.get(name="typed_settings").settings["retries"] == 3
    migration.unseal(apps, None)
    assert JobType.objects.get(name="typed_settings").settings == {"token": SECRET, "retries": 3}


def test_a_secret_no_key_decrypts_is_an_error_not_a_value() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        update_job_type(JobType.objects.get(name="typed_settings"), {"settings": {"token": SECRET}})
    config = effective_config("typed_settings")
    assert config.settings is None
    assert any(error.startswith("settings.token") for error in config.errors)
    messages = checks.run_checks(tags=["jobqueue_records"], databases=["default"])
    assert "jobqueue.E021" in ids(messages)
    assert "typed_settings.settings.token" in " ".join(m.msg for m in messages)


def test_open_settings_leaves_plain_values_alone() -> None:
    assert open_settings({"a": 1, "b": {"x": 1}, "c": None}) == {"a": 1, "b": {"x": 1}, "c": None}
    assert open_settings("not a dict") == {}


def ids(messages: list[checks.CheckMessage]) -> list[str | None]:
    return [m.id for m in messages if m.id in ("jobqueue.E021", "jobqueue.E005")]
