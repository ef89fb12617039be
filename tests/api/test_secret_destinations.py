"""A secret follows its destination: re-pointing a URL setting needs the secret entered again,
and a PATCH of settings changes only the settings it names."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pydantic
import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from jobqueue.models import JobType
from jobqueue.secrets.sealing import SentTo, destinations, open_settings
from jobqueue.services import update_job_type
from tests.admin.test_jobtypes import form_data

pytestmark = pytest.mark.django_db

KEY = "sk-the-real-key"


@pytest.fixture
def typed() -> JobType:
    record = JobType.objects.get(name="typed_settings")
    return update_job_type(record, {"settings": {"token": KEY, "retries": 2}})


def test_a_secret_follows_the_settings_it_is_sent_to() -> None:
    class Settings(pydantic.BaseModel):
        llm_base_url: str = ""
        llm_api_key: Annotated[pydantic.SecretStr, SentTo("llm_base_url")] = pydantic.SecretStr("")
        chain_api_url: str = ""
        webhook_host: str = ""
        unmarked: pydantic.SecretStr = pydantic.SecretStr("")

    assert destinations(Settings) == {
        "llm_api_key": ("llm_base_url",),
        "unmarked": ("llm_base_url", "chain_api_url", "webhook_host"),  # unmarked: every destination
    }


def test_the_deployments_secrets_name_their_destinations() -> None:
    from jobqueue.registry import registry

    assert destinations(registry.get("dao_proposal_evaluation").settings_model)["llm_api_key"] == ("llm_base_url",)
    assert destinations(registry.get("dao_deployment").settings_model)["tx_service_key"] == ("tx_service_url",)
    social = destinations(registry.get("tweet").settings_model)
    assert set(social.values()) == {("social_api_url",)}


def test_the_api_refuses_a_new_url_with_the_old_secret(api: Any, typed: JobType) -> None:
    body = {"settings": {"api_base_url": "https://attacker.example", "token": "**********"}}
    refused = api.patch("/api/job-types/typed_settings/", body, format="json")
    assert refused.status_code == 400
    message = refused.json()["errors"]["settings.token"][0]
    assert "api_base_url changed" in message
    assert "enter token again" in message
    assert open_settings(JobType.objects.get(pk=typed.pk).settings)["token"] == KEY
    # Naming the URL alone is the same request: the stored secret would go along.
    alone = api.patch(
        "/api/job-types/typed_settings/", {"settings": {"api_base_url": "https://x.example"}}, format="json"
    )
    assert alone.status_code == 400
    accepted = api.patch(
        "/api/job-types/typed_settings/",
        {"settings": {"api_base_url": "https://new.example", "token": "a-new-key"}},
        format="json",
    )
    assert accepted.status_code == 200, accepted.json()
    assert open_settings(JobType.objects.get(pk=typed.pk).settings)["token"] == "a-new-key"
    emptied = api.patch(
        "/api/job-types/typed_settings/",
        {"settings": {"api_base_url": "https://other.example", "token": ""}},
        format="json",
    )
    assert emptied.status_code == 200


def test_the_admin_refuses_a_new_url_with_the_old_secret(make_user: Any, typed: JobType) -> None:
    client = Client()
    client.force_login(make_user("editor", "jobqueue.view_jobtype", "jobqueue.change_jobtype"))
    url = reverse("admin:jobqueue_jobtype_change", args=[typed.pk])
    moved = json.dumps({"api_base_url": "https://attacker.example", "token": "**********", "retries": 2})
    refused = client.post(url, form_data(client, typed, settings=moved))
    assert refused.status_code == 200
    assert "enter token again in the same change" in refused.content.decode()
    assert "api_base_url" not in JobType.objects.get(pk=typed.pk).settings


def test_the_service_refuses_it_for_every_caller(typed: JobType) -> None:
    stored = JobType.objects.get(pk=typed.pk)
    with pytest.raises(ValidationError, match="enter token again"):
        update_job_type(stored, {"settings": {**stored.settings, "api_base_url": "https://attacker.example"}})


def test_a_settings_patch_keeps_what_it_does_not_name(api: Any, typed: JobType) -> None:
    response = api.patch("/api/job-types/typed_settings/", {"settings": {"retries": 7}}, format="json")
    assert response.status_code == 200, response.json()
    assert open_settings(JobType.objects.get(pk=typed.pk).settings) == {"token": KEY, "retries": 7}
