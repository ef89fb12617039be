"""Every encrypted column is write-only in the admin, for every role: view-only, change, superuser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.db import models
from django.test import Client

from jobqueue.services.encryption import encrypted_columns
from tasks.models import Chainhook, XAccount

pytestmark = pytest.mark.django_db

CLEAR = "clear-secret-value-7f3a"

# One record per model with encrypted columns, each secret set to CLEAR plus its field name.
RECORDS: dict[type[models.Model], dict[str, Any]] = {
    Chainhook: {"name": "dao-events", "network": "mainnet"},
    XAccount: {"name": "aibtcdev"},
}


def _secrets(model: type[models.Model]) -> list[str]:
    return [column.name for found, column in encrypted_columns() if found is model]


def _make(model: type[models.Model]) -> models.Model:
    return model.objects.create(**RECORDS[model], **{name: f"{CLEAR}-{name}" for name in _secrets(model)})


def _url(obj: models.Model, page: str = "change") -> str:
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/{page}/"


def test_every_model_with_an_encrypted_column_is_covered() -> None:
    # tests.models.Credential is the crypto tests' own model, with no admin.
    shipped = {model for model, _ in encrypted_columns() if model._meta.app_label != "jobqueue_tests"}
    assert shipped == set(RECORDS)


@pytest.mark.parametrize("model", list(RECORDS), ids=lambda m: m.__name__)
@pytest.mark.parametrize("role", ["view", "change", "superuser"])
def test_no_role_sees_a_stored_secret(model: type[models.Model], role: str, login: Callable[..., Client]) -> None:
    obj = _make(model)
    label = f"{model._meta.app_label}.{{}}_{model._meta.model_name}"
    perms = [label.format("view")] + ([label.format("change")] if role == "change" else [])
    client = login(*perms, superuser=role == "superuser")
    for page in (_url(obj), _url(obj, "history"), f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/"):
        response = client.get(page)
        assert response.status_code == 200, page
        assert CLEAR not in response.content.decode(), page
    page = client.get(_url(obj)).content.decode()
    assert page.count("set") >= len(_secrets(model))  # "set" / "not set" in place of each value
    for name in _secrets(model):
        assert (f'name="{name}"' in page) is (role != "view")  # an input to replace it, never its value


@pytest.mark.parametrize("model", list(RECORDS), ids=lambda m: m.__name__)
def test_a_secret_left_empty_is_kept_and_a_new_one_replaces_it_and_is_audited(
    model: type[models.Model], login: Callable[..., Client]
) -> None:
    obj = _make(model)
    client = login(superuser=True)
    first, *others = _secrets(model)
    form = {
        **RECORDS[model],
        "is_active": "on",
        first: "replacement-value-that-is-long-enough-0123",
        **dict.fromkeys(others, ""),
    }
    response = client.post(_url(obj), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    fresh = model.objects.get(pk=obj.pk)
    assert getattr(fresh, first) == "replacement-value-that-is-long-enough-0123"
    assert all(getattr(fresh, name) == f"{CLEAR}-{name}" for name in others)
    page = client.get(_url(obj)).content.decode()
    assert "replacement-value-that-is-long-enough-0123" not in page
    assert "set, last changed" in page  # the replaced one says when and by whom
    assert LogEntry.objects.filter(object_id=str(obj.pk), change_message__contains=f'"outcome": "{first}"').exists()


def test_every_registered_admin_of_a_secret_model_is_write_only() -> None:
    from jobqueue.admin.secretfields import WriteOnlySecretsAdmin

    for model in RECORDS:
        assert isinstance(admin.site._registry[model], WriteOnlySecretsAdmin)


def _types_with_secrets() -> list[str]:
    from jobqueue.registry import registry
    from jobqueue.secrets.sealing import secret_fields

    return sorted(d.name for d in registry if secret_fields(d.settings_model))


@pytest.mark.parametrize("role", ["view", "change", "superuser"])
def test_no_role_sees_a_secret_setting_in_the_admin_or_the_api(role: str, login: Callable[..., Client]) -> None:
    from rest_framework.test import APIClient

    from jobqueue.models import JobType
    from jobqueue.registry import registry
    from jobqueue.secrets.sealing import secret_fields
    from jobqueue.services import update_job_type
    from jobqueue.services.tokens import create_token

    names = _types_with_secrets()
    assert names  # the deployment's own types (send_tweet, the LLM types, ...) are among them
    for name in names:
        model = registry.get(name).settings_model
        update_job_type(JobType.objects.get(name=name), {"settings": {f: f"{CLEAR}-{f}" for f in secret_fields(model)}})
    perms = ["jobqueue.view_jobtype"] + (["jobqueue.change_jobtype"] if role == "change" else [])
    client = login(*perms, superuser=role == "superuser")
    api = APIClient()
    user = client.session.get("_auth_user_id")
    from django.contrib.auth.models import User

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(User.objects.get(pk=user), 'probe').secret}")
    listing = api.get("/api/job-types/")
    assert listing.status_code == 200
    assert CLEAR not in listing.content.decode()
    for name in names:
        record = JobType.objects.get(name=name)
        for page in (f"/admin/jobqueue/jobtype/{record.pk}/change/", f"/admin/jobqueue/jobtype/{record.pk}/history/"):
            response = client.get(page)
            assert response.status_code == 200, page
            assert CLEAR not in response.content.decode(), page
        # Each secret as "set" and when it was last changed, the same for every role.
        change_page = client.get(f"/admin/jobqueue/jobtype/{record.pk}/change/").content.decode()
        assert change_page.count("set, last changed") == len(secret_fields(registry.get(name).settings_model))
        response = api.get(f"/api/job-types/{name}/")
        assert response.status_code == 200
        assert CLEAR not in response.content.decode()
        for field in secret_fields(registry.get(name).settings_model):
            shown = response.json()["settings"][field]
            assert (shown["value"], shown["state"], shown["source"]) == (None, "set", "database"), (name, field)
            assert shown["changed_at"] is not None
    assert CLEAR not in api.get("/api/schema/").content.decode()
