"""`discord`: the webhook is picked by proposal status, else the default; a payload cannot name one."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pydantic
import pytest
from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.exceptions import PayloadValidationError
from jobqueue.models import DeadLetter, Job, Status
from jobqueue.registry import registry
from jobqueue.services import requeue_dead_letter
from tests.tasks.conftest import run


@pytest.fixture
def hooks(configure: Any, httpserver: HTTPServer) -> None:
    configure(
        "discord",
        webhook_url=httpserver.url_for("/hooks/default"),
        passed_webhook_url=httpserver.url_for("/hooks/passed"),
        failed_webhook_url=httpserver.url_for("/hooks/failed"),
    )
    for name in ("default", "passed", "failed"):
        httpserver.expect_request(f"/hooks/{name}", method="POST").respond_with_data("", 204)


@pytest.mark.parametrize(
    ("extra", "hook"),
    [({}, "default"), ({"proposal_status": "passed"}, "passed"), ({"proposal_status": "failed"}, "failed")],
)
def test_webhook_by_proposal_status(hooks: None, httpserver: HTTPServer, extra: dict[str, Any], hook: str) -> None:
    job = run(enqueue("discord", {"content": "Proposal 7 is decided", **extra}))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert [r.path for r, _ in httpserver.log] == [f"/hooks/{hook}"]


def test_embeds_are_sent(hooks: None, httpserver: HTTPServer) -> None:
    embed = {"title": "Passed", "description": "Fund the docs", "color": 0x00FF00}
    job = run(enqueue("discord", {"embeds": [embed], "proposal_status": "passed"}))
    assert job.status == Status.SUCCEEDED, job.last_error
    request = httpserver.log[0][0]
    assert request.path == "/hooks/passed"
    sent = json.loads(request.get_data())
    assert sent == {"content": "", "tts": False, "embeds": [embed], "allowed_mentions": {"parse": []}}


def test_a_post_pings_no_one_whatever_its_text_says(hooks: None, httpserver: HTTPServer) -> None:
    # A proposal's memo is written by whoever created it and can end up in a post.
    job = run(enqueue("discord", {"content": "@everyone <@&1234> vote now"}))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert json.loads(httpserver.log[0][0].get_data())["allowed_mentions"] == {"parse": []}


def test_embeds_over_discords_6000_character_total_are_refused_at_enqueue(hooks: None) -> None:
    embeds = [{"title": "t" * 200, "description": "d" * 4000}, {"description": "d" * 1801}]
    with pytest.raises(PayloadValidationError, match="total 6001 characters; Discord allows 6000"):
        enqueue("discord", {"embeds": embeds})
    assert not Job.objects.exists()


def test_a_payload_cannot_name_a_webhook(hooks: None, httpserver: HTTPServer) -> None:
    # A webhook URL is a secret and a payload is stored and shown in clear; naming any URL would
    # also let an enqueuer make a worker POST anywhere. Refused at enqueue, nothing is sent.
    with pytest.raises(PayloadValidationError) as refused:
        enqueue("discord", {"content": "x", "webhook_url": httpserver.url_for("/elsewhere")})
    assert refused.value.errors == {"payload.webhook_url": ["Extra inputs are not permitted"]}
    assert not Job.objects.exists()
    assert httpserver.log == []


def test_no_webhook_configured_is_dead_with_the_fix(configure: Any) -> None:
    configure("discord")
    job = run(enqueue("discord", {"content": "x", "proposal_status": "failed"}))
    assert job.status == Status.DEAD
    assert "set the failed_webhook_url or webhook_url setting" in job.last_error


@pytest.mark.parametrize(
    ("payload", "valid"),
    [
        ({"content": "hello"}, True),
        ({"embeds": [{"title": "t"}]}, True),
        ({"content": " ", "embeds": [{}]}, True),
        ({}, False),
        ({"content": "  \n"}, False),
        ({"embeds": []}, False),
        ({"content": "", "embeds": [], "tts": True}, False),
    ],
)
def test_the_payload_schema_says_what_the_validator_checks(payload: dict[str, Any], valid: bool) -> None:
    model = registry.get("discord").payload_model
    schema = model.model_json_schema()
    assert jsonschema.Draft202012Validator(schema).is_valid(payload) is valid
    try:
        model.model_validate(payload)
    except pydantic.ValidationError:
        assert not valid
    else:
        assert valid


def test_a_job_queued_with_a_webhook_before_the_change_goes_to_the_dead_letters(hooks: None) -> None:
    job = enqueue("discord", {"content": "x"})
    Job.objects.filter(pk=job.pk).update(
        payload={"content": "x", "webhook_url": "https://discord.com/api/webhooks/1/t"}
    )
    job = run(job)
    assert job.status == Status.DEAD
    dead = DeadLetter.objects.get(job=job)
    assert "webhook_url" in dead.error_message
    assert requeue_dead_letter(dead, by="cli", payload={"content": "x"}).payload["content"] == "x"
