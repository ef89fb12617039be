"""`discord`: the webhook is picked from the payload, else by proposal status, else the default."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pydantic
import pytest
from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import Status
from jobqueue.registry import registry
from tests.tasks.conftest import run


@pytest.fixture
def hooks(configure: Any, httpserver: HTTPServer) -> None:
    configure(
        "discord",
        webhook_url=httpserver.url_for("/hooks/default"),
        passed_webhook_url=httpserver.url_for("/hooks/passed"),
        failed_webhook_url=httpserver.url_for("/hooks/failed"),
    )
    for name in ("default", "passed", "failed", "given"):
        httpserver.expect_request(f"/hooks/{name}", method="POST").respond_with_data("", 204)


@pytest.mark.parametrize(
    ("extra", "hook"),
    [({}, "default"), ({"proposal_status": "passed"}, "passed"), ({"proposal_status": "failed"}, "failed")],
)
def test_webhook_by_proposal_status(hooks: None, httpserver: HTTPServer, extra: dict[str, Any], hook: str) -> None:
    job = run(enqueue("discord", {"content": "Proposal 7 is decided", **extra}))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert [r.path for r, _ in httpserver.log] == [f"/hooks/{hook}"]


def test_a_given_webhook_wins_and_embeds_are_sent(hooks: None, httpserver: HTTPServer) -> None:
    embed = {"title": "Passed", "description": "Fund the docs", "color": 0x00FF00}
    payload = {"embeds": [embed], "proposal_status": "passed", "webhook_url": httpserver.url_for("/hooks/given")}
    job = run(enqueue("discord", payload))
    assert job.status == Status.SUCCEEDED, job.last_error
    request = httpserver.log[0][0]
    assert request.path == "/hooks/given"
    assert json.loads(request.get_data()) == {"content": "", "tts": False, "embeds": [embed]}


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
