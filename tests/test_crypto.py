"""Encryption at rest: Fernet tokens with rotatable keys, and the encrypted model field."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection
from django.test import override_settings

from jobqueue.secrets import crypto
from tests.conftest import ROOT
from tests.models import Credential

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def raw_column(model: type, column: str, pk: int) -> str | None:
    """The value as the database holds it, read with a raw cursor (no field conversion)."""
    table = connection.ops.quote_name(model._meta.db_table)  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.mark.database_independent
def test_round_trip_makes_a_fernet_token() -> None:
    token = crypto.encrypt("hunter2 ünïcode")
    assert token.startswith("gAAAA")
    assert "hunter2" not in token
    assert crypto.encrypt("hunter2 ünïcode") != token  # a fresh IV each time
    assert crypto.decrypt(token) == "hunter2 ünïcode"


@pytest.mark.database_independent
def test_any_listed_key_decrypts_and_the_first_encrypts() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        token = crypto.encrypt("s3cret")
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        assert crypto.decrypt(token) == "s3cret"
        rotated = crypto.reencrypt(token)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        assert crypto.decrypt(rotated) == "s3cret"
        with pytest.raises(crypto.DecryptionError, match="not in FIELD_ENCRYPTION_KEYS"):
            crypto.decrypt(token)
        with pytest.raises(crypto.DecryptionError):
            crypto.reencrypt(token)


@pytest.mark.database_independent
def test_a_token_says_when_it_was_made_and_rotation_keeps_it() -> None:
    # "When was this secret last changed" is read from the token, so rotating keys must not move it.
    made = Fernet(OLD.encode()).encrypt_at_time(b"s3cret", 1_700_000_000).decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        assert crypto.encrypted_at(made) == datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.UTC)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        rotated = crypto.reencrypt(made)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        assert rotated != made
        assert crypto.encrypted_at(rotated) == datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.UTC)
        assert crypto.encrypted_at(made) is None  # no configured key vouches for it


@pytest.mark.database_independent
def test_keys_may_be_one_comma_separated_string() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=f" {NEW} , {OLD},"):
        assert crypto.configured_keys() == [NEW, OLD]
        assert crypto.decrypt(crypto.encrypt("x")) == "x"


@pytest.mark.database_independent
def test_a_missing_key_without_debug_refuses_with_the_fix() -> None:
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[], DEBUG=False),
        pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is not set"),
    ):
        crypto.encrypt("x")


@pytest.mark.database_independent
def test_development_derives_a_stable_key_from_secret_key() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[], DEBUG=True, SECRET_KEY="one"):
        token = crypto.encrypt("dev secret")
        assert crypto.decrypt(token) == "dev secret"
    with override_settings(FIELD_ENCRYPTION_KEYS=[], DEBUG=True, SECRET_KEY="one"):
        assert crypto.decrypt(token) == "dev secret"
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[], DEBUG=True, SECRET_KEY="two"),
        pytest.raises(crypto.DecryptionError),
    ):
        crypto.decrypt(token)


@pytest.mark.database_independent
def test_a_malformed_key_says_how_to_make_one() -> None:
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=["not-a-key"]),
        pytest.raises(ImproperlyConfigured, match=r"Fernet\.generate_key"),
    ):
        crypto.encrypt("x")


@pytest.mark.django_db
def test_the_field_stores_a_token_and_gives_back_plaintext() -> None:
    saved = Credential.objects.create(name="hook", secret="https://discord.test/api/webhooks/123/abc")
    raw = raw_column(Credential, "secret", saved.pk)
    assert raw is not None
    assert raw.startswith("gAAAA")
    assert "discord" not in raw
    assert Credential.objects.get(pk=saved.pk).secret == "https://discord.test/api/webhooks/123/abc"
    assert list(Credential.objects.values_list("secret", flat=True)) == ["https://discord.test/api/webhooks/123/abc"]


@pytest.mark.django_db
def test_empty_stays_empty_and_null_stays_null() -> None:
    saved = Credential.objects.create(name="none", secret="", optional=None)
    assert raw_column(Credential, "secret", saved.pk) == ""
    assert raw_column(Credential, "optional", saved.pk) is None
    loaded = Credential.objects.get(pk=saved.pk)
    assert (loaded.secret, loaded.optional) == ("", None)
    assert Credential.objects.filter(secret="").count() == 1
    assert Credential.objects.filter(optional__isnull=True).count() == 1


@pytest.mark.django_db
def test_searching_inside_a_secret_is_refused() -> None:
    with pytest.raises(FieldError, match="Unsupported lookup 'icontains'"):
        list(Credential.objects.filter(secret__icontains="discord"))


@pytest.mark.django_db
def test_a_row_encrypted_with_a_dropped_key_fails_loudly() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        saved = Credential.objects.create(name="old", secret="kept")
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]), pytest.raises(crypto.DecryptionError):
        Credential.objects.get(pk=saved.pk)


def check_ids() -> list[str | None]:
    return [m.id for m in checks.run_checks(tags=["jobqueue"]) if m.id in ("jobqueue.E020", "jobqueue.W020")]


@pytest.mark.database_independent
def test_the_checks_want_a_key_in_production_and_warn_once_in_development() -> None:
    assert check_ids() == []
    with override_settings(FIELD_ENCRYPTION_KEYS=[], DEBUG=False):
        assert check_ids() == ["jobqueue.E020"]
    with override_settings(FIELD_ENCRYPTION_KEYS=[], DEBUG=True):
        assert check_ids() == ["jobqueue.W020"]
    with override_settings(FIELD_ENCRYPTION_KEYS=["short"], DEBUG=False):
        assert check_ids() == ["jobqueue.E020"]


@pytest.mark.database_independent
def test_a_missing_key_stops_start_up() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DEBUG": "false", "FIELD_ENCRYPTION_KEYS": ""}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "jobqueue.E020" in done.stderr
    assert "FIELD_ENCRYPTION_KEYS is not set" in done.stderr
