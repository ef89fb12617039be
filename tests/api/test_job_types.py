"""/api/job-types/: effective config and sources, secrets as set / not set, PATCH (pins refused), run now."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from jobqueue import enqueue
from jobqueue.models import Job, JobType
from jobqueue.secrets.sealing import open_settings
from jobqueue.services import update_job_type

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-bearer-value"


@pytest.fixture
def typed() -> JobType:
    record = JobType.objects.get(name="typed_settings")
    return update_job_type(record, {"settings": {"token": SECRET, "retries": 5}, "max_attempts": 4})


def test_list_shows_config_sources_schemas_and_counts(api, typed) -> None:
    enqueue("echo", {"value": 1})
    enqueue("echo", {"value": 2}, delay=3600)  # scheduled: not ready
    response = api.get("/api/job-types/")
    assert response.status_code == 200
    assert SECRET not in response.content.decode()
    by_name = {row["name"]: row for row in response.json()}
    assert by_name["echo"]["counts"] == {"ready": 1, "running": 0, "dead": 0}
    row = by_name["typed_settings"]
    assert row["enabled"] is False
    assert row["registered"] is True
    assert row["config"]["max_attempts"] == {"value": 4, "source": "database", "pinned_by": None}
    assert row["config"]["priority"]["source"] == "code"
    assert row["settings"]["token"]["value"] is None
    assert row["settings"]["token"]["state"] == "set"
    assert row["settings"]["retries"] == {"value": 5, "source": "database", "pinned_by": None}
    assert row["payload_schema"]["properties"]["text"]["maxLength"] == 280
    assert "token" in row["settings_schema"]["properties"]
    assert row["schedule"] == {"value": None, "timezone": None}


def test_detail_shows_environment_pins(api, monkeypatch) -> None:
    monkeypatch.setenv("JOBQUEUE_ECHO_PRIORITY", "40")
    body = api.get("/api/job-types/echo/").json()
    assert body["config"]["priority"] == {"value": 40, "source": "environment", "pinned_by": "JOBQUEUE_ECHO_PRIORITY"}


def test_patch_refuses_a_pinned_value_naming_the_variable(api, monkeypatch) -> None:
    monkeypatch.setenv("JOBQUEUE_ECHO_PRIORITY", "40")
    response = api.patch("/api/job-types/echo/", {"priority": 10}, format="json")
    assert response.status_code == 400
    assert "JOBQUEUE_ECHO_PRIORITY" in response.json()["errors"]["priority"][0]
    assert JobType.objects.get(name="echo").priority is None


def test_patch_edits_the_record_keeps_masked_secrets_and_is_audited(api, typed) -> None:
    response = api.patch(
        "/api/job-types/typed_settings/",
        {"enabled": True, "rate_limit": "10/m", "settings": {"token": "**********", "retries": 1}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["enabled"] is True
    assert body["config"]["rate_limit"]["value"] == "10/60s"
    assert SECRET not in response.content.decode()
    record = JobType.objects.get(name="typed_settings")
    assert open_settings(record.settings) == {"token": SECRET, "retries": 1}
    assert SECRET not in json.dumps(record.settings)
    entry = LogEntry.objects.get(object_id=str(record.pk), user=api.user)
    message = json.loads(entry.change_message)
    assert message["outcome"] == "changed"
    assert SECRET not in entry.change_message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"priority": 1000}, "priority"),
        ({"rate_limit": "fast"}, "rate_limit"),
        ({"schedule": "every day"}, "schedule"),
        ({"schedule_timezone": "Mars/Olympus"}, "schedule_timezone"),
        ({"settings": {"retries": "many"}}, "settings.retries"),
        ({"settings": {"nope": 1}}, "settings"),
        ({"name": "renamed"}, "name"),
    ],
)
def test_patch_validation_errors(api, body, field) -> None:
    response = api.patch("/api/job-types/typed_settings/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]


def test_permissions_and_404(client_for) -> None:
    viewer = client_for("jobqueue.view_jobtype")
    assert viewer.get("/api/job-types/").status_code == 200
    assert viewer.patch("/api/job-types/echo/", {"priority": 1}, format="json").status_code == 403
    assert viewer.post("/api/job-types/echo/run/", {"payload": {"value": 1}}, format="json").status_code == 403
    assert client_for().get("/api/job-types/").status_code == 403
    assert viewer.get("/api/job-types/missing/").status_code == 404
    assert viewer.get("/api/job-types/NOT%20A%20NAME/").status_code == 404
    assert viewer.delete("/api/job-types/echo/").status_code == 405


def test_run_now_validates_like_enqueue(api) -> None:
    response = api.post("/api/job-types/echo/run/", {"payload": {"value": 5}}, format="json")
    assert response.status_code == 201
    assert Job.objects.get(pk=response.json()["id"]).payload == {"value": 5, "label": ""}
    bad = api.post("/api/job-types/echo/run/", {"payload": {"value": "five"}}, format="json")
    assert bad.status_code == 400
    assert "payload.value" in bad.json()["errors"]


def test_an_unregistered_type_is_shown_but_not_run(api) -> None:
    JobType.objects.create(name="gone_type", registered=False)
    body = api.get("/api/job-types/gone_type/").json()
    assert (body["registered"], body["config"], body["payload_schema"]) == (False, None, None)
    assert api.post("/api/job-types/gone_type/run/", {}, format="json").status_code == 409
    assert api.patch("/api/job-types/gone_type/", {"priority": 1}, format="json").status_code == 409


def test_a_secret_setting_shows_whether_it_is_set_and_when_it_was_last_changed(api, monkeypatch) -> None:
    url = "/api/job-types/typed_settings/"
    assert api.get(url).json()["settings"]["token"] == {
        "value": None,
        "source": "code",
        "pinned_by": None,
        "state": "not set",
        "changed_at": None,
    }
    before = timezone.now() - timedelta(seconds=1)  # the token's time has whole seconds
    update_job_type(JobType.objects.get(name="typed_settings"), {"settings": {"token": SECRET}})
    after = timezone.now()
    token = api.get(url).json()["settings"]["token"]
    assert (token["value"], token["source"], token["state"]) == (None, "database", "set")
    assert before <= datetime.fromisoformat(token["changed_at"]) <= after

    # Another setting's change leaves the secret's time alone.
    assert api.patch(url, {"settings": {"retries": 4}}, format="json").status_code == 200
    assert api.get(url).json()["settings"]["token"]["changed_at"] == token["changed_at"]

    # A pinned secret is set; when it changed is the environment's business.
    monkeypatch.setenv("JOBQUEUE_TYPED_SETTINGS_SETTINGS_TOKEN", "pinned-secret-value")
    pinned = api.get(url).json()["settings"]["token"]
    assert pinned == {
        "value": None,
        "source": "environment",
        "pinned_by": "JOBQUEUE_TYPED_SETTINGS_SETTINGS_TOKEN",
        "state": "set",
        "changed_at": None,
    }
    assert "pinned-secret-value" not in api.get(url).content.decode()
