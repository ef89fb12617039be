"""Per-type enqueue permissions: created on sync, checked by the API, the admin's run now and the CLI;
built-in job types refused to everyone."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from jobqueue.models import Job, JobType
from jobqueue.registry import registry
from jobqueue.services import sync_job_types
from jobqueue.services.tokens import create_token

pytestmark = pytest.mark.django_db

TWEET = {"type": "tweet", "payload": {"text": "hello"}}
DISCORD = {"type": "discord", "payload": {"content": "hello"}}
PRUNE = {"type": "jobqueue_prune", "payload": {}}


def api_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(user, 'tests').secret}")
    return client


@pytest.fixture
def tweeter(make_user: Callable[..., Any]) -> Any:
    """May enqueue `tweet` jobs, not `discord` ones."""
    return make_user("tweeter", "jobqueue.add_job", "jobqueue.enqueue_tweet", "jobqueue.view_jobtype")


@pytest.fixture
def root(make_user: Callable[..., Any]) -> Any:
    return make_user("root", superuser=True)


def test_sync_gives_every_type_but_the_built_in_ones_a_permission() -> None:
    codenames = set(Permission.objects.filter(content_type__app_label="jobqueue").values_list("codename", flat=True))
    for name in registry.names():
        assert (f"enqueue_{name}" in codenames) is not name.startswith("jobqueue_"), name
    Permission.objects.filter(codename="enqueue_tweet").delete()
    sync_job_types()
    created = Permission.objects.get(codename="enqueue_tweet")
    assert created.name == "Can enqueue tweet jobs"
    assert created.content_type.model == "jobtype"


def test_api_enqueue_needs_the_types_own_permission(tweeter: Any) -> None:
    client = api_client(tweeter)
    assert client.post("/api/jobs/", TWEET, format="json").status_code == 201
    refused = client.post("/api/jobs/", DISCORD, format="json")
    assert refused.status_code == 403
    body = refused.json()
    assert "jobqueue.enqueue_discord" in body["detail"]
    assert body["errors"] == {"type": [body["errors"]["type"][0]]}
    assert list(Job.objects.values_list("job_type__name", flat=True)) == ["tweet"]


def test_api_bulk_refuses_the_whole_batch_naming_the_items(tweeter: Any) -> None:
    client = api_client(tweeter)
    refused = client.post("/api/jobs/bulk/", {"jobs": [TWEET, DISCORD, TWEET]}, format="json")
    assert refused.status_code == 403
    assert set(refused.json()["errors"]) == {"1.type"}
    assert "nothing was enqueued" in refused.json()["detail"]
    assert not Job.objects.exists()
    assert client.post("/api/jobs/bulk/", {"jobs": [TWEET, TWEET]}, format="json").status_code == 201


def test_api_run_now_needs_the_types_own_permission(tweeter: Any) -> None:
    client = api_client(tweeter)
    assert client.post("/api/job-types/tweet/run/", {"payload": {"text": "hi"}}, format="json").status_code == 201
    refused = client.post("/api/job-types/discord/run/", {"payload": {}}, format="json")
    assert refused.status_code == 403
    assert "jobqueue.enqueue_discord" in refused.json()["detail"]
    assert Job.objects.count() == 1


def test_the_types_permission_alone_is_not_enough(make_user: Callable[..., Any]) -> None:
    client = api_client(make_user("half", "jobqueue.enqueue_tweet"))
    refused = client.post("/api/jobs/", TWEET, format="json")
    assert refused.status_code == 403
    assert "jobqueue.add_job" in refused.json()["detail"]


def test_nobody_enqueues_a_built_in_type_through_the_api(root: Any) -> None:
    client = api_client(root)
    assert client.post("/api/jobs/", TWEET, format="json").status_code == 201  # a superuser may do the rest
    for response in (
        client.post("/api/jobs/", PRUNE, format="json"),
        client.post("/api/jobs/bulk/", {"jobs": [TWEET, PRUNE]}, format="json"),
        client.post("/api/job-types/jobqueue_prune/run/", {}, format="json"),
        client.post("/api/job-types/jobqueue_rollup/run/", {}, format="json"),
        client.post("/api/job-types/jobqueue_hook/run/", {}, format="json"),
    ):
        assert response.status_code == 403
        assert "built-in job type" in response.json()["detail"]
    assert list(Job.objects.values_list("job_type__name", flat=True)) == ["tweet"]


def admin_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_url(name: str) -> str:
    return reverse("admin:jobqueue_jobtype_run", args=[JobType.objects.get(name=name).pk])


def change_page(client: Client, name: str) -> str:
    return client.get(
        reverse("admin:jobqueue_jobtype_change", args=[JobType.objects.get(name=name).pk])
    ).content.decode()


def test_admin_run_now_needs_the_types_own_permission(tweeter: Any) -> None:
    client = admin_client(tweeter)
    assert 'class="jq-run"' in change_page(client, "tweet")
    assert 'class="jq-run"' not in change_page(client, "discord")
    assert client.post(run_url("tweet"), {"payload": '{"text": "hi"}'}).status_code == 302
    assert client.post(run_url("discord"), {"payload": "{}"}).status_code == 403
    assert client.get(run_url("discord")).status_code == 403
    assert list(Job.objects.values_list("job_type__name", flat=True)) == ["tweet"]


def test_nobody_runs_a_built_in_type_from_the_admin(root: Any) -> None:
    client = admin_client(root)
    assert 'class="jq-run"' not in change_page(client, "jobqueue_prune")
    response = client.post(run_url("jobqueue_prune"), {"payload": "{}"}, follow=True)
    assert response.redirect_chain[-1][0].endswith(
        reverse("admin:jobqueue_jobtype_change", args=[JobType.objects.get(name="jobqueue_prune").pk])
    )
    assert "built-in job type" in response.content.decode()
    assert not Job.objects.exists()


def test_cli_enqueue_trusts_the_shell_unless_told_whom_it_acts_for(tweeter: Any, root: Any) -> None:
    out = io.StringIO()
    call_command("jobqueue", "enqueue", "discord", '{"content": "x"}', stdout=out)
    assert out.getvalue().startswith("enqueued ")
    call_command("jobqueue", "enqueue", "tweet", '{"text": "x"}', "--as-user", "tweeter", stdout=out)
    assert Job.objects.filter(job_type__name="tweet", created_by="cli:user:tweeter").exists()
    with pytest.raises(CommandError, match=r"jobqueue\.enqueue_discord"):
        call_command("jobqueue", "enqueue", "discord", "{}", "--as-user", "tweeter")
    with pytest.raises(CommandError, match="built-in job type"):
        call_command("jobqueue", "enqueue", "jobqueue_prune", "{}", "--as-user", "root")
    with pytest.raises(CommandError, match="no active user 'ghost'"):
        call_command("jobqueue", "enqueue", "tweet", '{"text": "x"}', "--as-user", "ghost")
    assert Job.objects.count() == 2
