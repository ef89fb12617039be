"""The job types admin: list columns, effective values with sources, pinned fields, secrets, run now."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jobqueue.models import Job, JobType, Status
from jobqueue.secrets.sealing import open_settings

pytestmark = pytest.mark.django_db


def form_data(client: Client, record: JobType, **changes: Any) -> dict[str, Any]:
    """The change form's current values as a browser would submit them, with `changes` applied."""
    form = client.get(reverse("admin:jobqueue_jobtype_change", args=[record.pk])).context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(value, dict):
            value = json.dumps(value)
        elif value is None:
            value = "unknown" if field.__class__.__name__ == "NullBooleanField" else ""
        data[name] = value
    data.update(changes)
    return data


def test_list_shows_configuration_counts_and_last_run(login: Callable[..., Client]) -> None:
    echo = JobType.objects.get(name="echo")
    Job.objects.create(job_type=echo)
    Job.objects.create(job_type=echo, status=Status.RUNNING)
    page = login().get(reverse("admin:jobqueue_jobtype_changelist")).content.decode()
    assert "ready" in page
    assert "Last run" in page
    assert '<td class="field-ready_count">1</td>' in page
    assert '<td class="field-running_count">1</td>' in page


def test_edit_page_shows_sources_and_refuses_pinned_fields(
    login: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBQUEUE_ECHO_PRIORITY", "5")
    record = JobType.objects.get(name="echo")
    client = login("jobqueue.change_jobtype")
    page = client.get(reverse("admin:jobqueue_jobtype_change", args=[record.pk])).content.decode()
    assert "environment (JOBQUEUE_ECHO_PRIORITY)" in page
    assert "<td>code</td>" in page

    response = client.post(
        reverse("admin:jobqueue_jobtype_change", args=[record.pk]), form_data(client, record, priority="7")
    )
    assert response.status_code == 200
    assert "pinned by the environment variable JOBQUEUE_ECHO_PRIORITY" in response.content.decode()
    record.refresh_from_db()
    assert record.priority is None

    ok = client.post(
        reverse("admin:jobqueue_jobtype_change", args=[record.pk]), form_data(client, record, timeout="42")
    )
    assert ok.status_code == 302
    record.refresh_from_db()
    assert record.timeout == 42


def test_settings_are_validated_and_secrets_masked(login: Callable[..., Client]) -> None:
    record = JobType.objects.get(name="typed_settings")
    JobType.objects.filter(pk=record.pk).update(settings={"token": "s3cret-value", "retries": 3})
    client = login("jobqueue.change_jobtype")
    url = reverse("admin:jobqueue_jobtype_change", args=[record.pk])

    page = client.get(url).content.decode()
    assert "s3cret-value" not in page
    assert "**********" in page

    bad = client.post(url, form_data(client, record, settings=json.dumps({"token": "**********", "retries": "many"})))
    assert bad.status_code == 200
    assert "settings.retries" in bad.content.decode()

    ok = client.post(url, form_data(client, record, settings=json.dumps({"token": "**********", "retries": 5})))
    assert ok.status_code == 302
    record.refresh_from_db()
    assert record.settings["token"]["$enc"].startswith("gAAAA")  # kept, and now sealed
    assert open_settings(record.settings) == {"token": "s3cret-value", "retries": 5}
    again = client.get(url).content.decode()
    assert "s3cret-value" not in again
    assert "gAAAA" not in again  # not even the token is shown


def test_view_only_cannot_edit_or_run(login: Callable[..., Client]) -> None:
    record = JobType.objects.get(name="echo")
    client = login()
    page = client.get(reverse("admin:jobqueue_jobtype_change", args=[record.pk])).content.decode()
    assert 'class="jq-run"' not in page
    assert client.post(reverse("admin:jobqueue_jobtype_run", args=[record.pk]), {"payload": "{}"}).status_code == 403
    response = client.post(reverse("admin:jobqueue_jobtype_change", args=[record.pk]), {"timeout": "9"})
    assert response.status_code == 403
    record.refresh_from_db()
    assert record.timeout is None


def test_enable_and_disable_actions(login: Callable[..., Client]) -> None:
    record = JobType.objects.get(name="echo")
    client = login("jobqueue.change_jobtype")
    url = reverse("admin:jobqueue_jobtype_changelist")
    client.post(url, {"action": "disable", "_selected_action": [record.pk]})
    record.refresh_from_db()
    assert record.enabled is False
    client.post(url, {"action": "enable", "_selected_action": [record.pk]})
    record.refresh_from_db()
    assert record.enabled is True


def test_run_now_validates_the_payload(login: Callable[..., Client]) -> None:
    record = JobType.objects.get(name="echo")
    client = login("jobqueue.add_job", "jobqueue.enqueue_echo")
    url = reverse("admin:jobqueue_jobtype_run", args=[record.pk])
    assert 'class="jq-run"' in client.get(reverse("admin:jobqueue_jobtype_change", args=[record.pk])).content.decode()
    page = client.get(url).content.decode()
    assert "Payload schema" in page

    bad = client.post(url, {"payload": '{"value": "x"}'})
    assert bad.status_code == 200
    assert "value:" in bad.content.decode()
    assert not Job.objects.exists()

    ok = client.post(url, {"payload": '{"value": 3}'})
    assert ok.status_code == 302
    job = Job.objects.get()
    assert job.payload == {"value": 3, "label": ""}
    assert job.created_by.startswith("user:")
