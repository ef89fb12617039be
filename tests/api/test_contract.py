"""The OpenAPI document is the exact contract: strict bodies, JSON types, validated query parameters,
per-operation security, and every response type real."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from jobqueue import enqueue
from jobqueue.observability.search import QUERY_PATTERN

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api: APIClient) -> dict[str, Any]:
    return dict(api.get("/api/schema/?format=json").json())


def test_request_bodies_refuse_unknown_fields_in_the_schema_too(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for name in ("Reason", "Discard", "Requeue", "BulkRequeue", "EchoRunNow", "EchoChange", "EnqueueEcho"):
        assert components[name]["additionalProperties"] is False, name
    assert components["Discard"]["properties"]["reason"]["minLength"] == 1
    assert components["BulkRequeue"]["properties"]["ids"]["minItems"] == 1
    assert components["EnqueueEcho"]["not"] == {"required": ["run_after", "delay"]}
    assert components["EnqueueEcho"]["required"] == ["type", "payload"]  # echo's payload has a required field


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/jobs/", {"type": "echo", "payload": {"value": 1}, "priority": "5"}, "priority"),
        ("/api/jobs/", {"type": "echo", "payload": {"value": 1}, "delay": True}, "delay"),
        ("/api/jobs/", {"type": 7, "payload": {"value": 1}}, "type"),
        ("/api/jobs/", {"type": "echo", "payload": {"value": 1}, "unique_key": 3}, "unique_key"),
    ],
)
def test_fields_take_their_json_type_only(api: APIClient, path: str, body: dict[str, Any], field: str) -> None:
    response = api.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_a_reason_must_be_a_string(api: APIClient) -> None:
    job = enqueue("echo", {"value": 1})
    response = api.post(f"/api/jobs/{job.pk}/cancel/", {"reason": 0}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"reason": ["must be a string"]}


@pytest.mark.parametrize(
    "query",
    ["/api/jobs/?type=", "/api/jobs/?unique_key=", "/api/dead-letters/?type=", "/api/jobs/?page_size=abc"],
)
def test_query_parameters_are_validated_as_declared(api: APIClient, query: str) -> None:
    assert api.get(query).status_code == 400


def test_page_size_is_declared_and_bounded(api: APIClient, schema: dict[str, Any]) -> None:
    (param,) = [p for p in schema["paths"]["/api/jobs/"]["get"]["parameters"] if p["name"] == "page_size"]
    assert param["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert api.get("/api/jobs/?page_size=501").status_code == 400
    assert api.get("/api/jobs/?page_size=2").status_code == 200


def test_health_is_open_and_the_rest_secured(schema: dict[str, Any]) -> None:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if path == "/api/health/":
                assert {} in operation["security"]
            else:
                assert operation["security"], f"{method} {path}"
                assert {} not in operation["security"], f"{method} {path}"


def test_prometheus_ignores_format_and_answers_errors_as_json(client_for: Any) -> None:
    viewer = client_for("jobqueue.view_job")
    response = viewer.get("/api/metrics/prometheus/?format=AAA")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    anonymous = APIClient().get("/api/metrics/prometheus/")
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/json"
    assert anonymous.json()["detail"]


def test_metrics_filtered_by_a_type_without_figures_is_empty(api: APIClient) -> None:
    body = api.get("/api/metrics/?type=nothing_like_this").json()
    assert body["types"] == []


def test_whole_numbers_written_with_a_fraction_are_integers(api: APIClient) -> None:
    # JSON Schema counts 5.0 as an integer: a field typed integer takes it.
    response = api.post("/api/jobs/", {"type": "echo", "payload": {"value": 1.0}, "priority": -9.0}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["priority"] == -9
    assert response.json()["payload"]["value"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "echo", "payload": {"value": "5"}}, "payload.value"),
        ({"type": "echo", "payload": {"value": True}}, "payload.value"),
        ({"type": "echo", "payload": {"value": 1.5}}, "payload.value"),
    ],
)
def test_payloads_take_the_json_types_of_their_schema(api: APIClient, body: dict[str, Any], field: str) -> None:
    response = api.post("/api/jobs/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert api.post("/api/job-types/echo/run/", {"payload": body["payload"]}, format="json").status_code == 400


def test_list_items_take_their_json_type(api: APIClient) -> None:
    response = api.post("/api/dead-letters/requeue/", {"ids": [False]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"ids.0": ["must be a string"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"retention": 0}, "retention"),
        ({"timeout": 2592000.5}, "timeout"),
        ({"timeout": "300"}, "timeout"),
        ({"enabled": "yes"}, "enabled"),
        ({"backoff_max": 5e153}, "backoff_max"),
        ({"schedule": "0 0 31 2 *"}, "schedule"),
        ({"schedule_timezone": "Nowhere/City"}, "schedule_timezone"),
        ({"rate_limit": "10 per minute"}, "rate_limit"),
        ({"schedule": "*/2 * " + ",".join(["1"] * 50) + " * *"}, "schedule"),
        ({"settings": {"retries": "2"}}, "settings.retries"),
    ],
)
def test_options_take_what_the_schema_declares(api: APIClient, body: dict[str, Any], field: str) -> None:
    response = api.patch("/api/job-types/typed_settings/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_each_job_type_has_its_own_edit_and_run_operations(schema: dict[str, Any]) -> None:
    paths, components = schema["paths"], schema["components"]["schemas"]
    # No template path: it would offer GET for any name, and the server answers PATCH there too.
    assert "/api/job-types/{name}/" not in paths
    assert "/api/job-types/{name}/run/" not in paths
    assert paths["/api/job-types/typed_settings/"]["get"]["operationId"] == "job_types_typed_settings_retrieve"
    patch = paths["/api/job-types/typed_settings/"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/TypedSettingsChange"}
    settings = components["TypedSettingsChange"]["properties"]["settings"]
    assert settings["$ref"] == "#/components/schemas/TypedSettingsSettings"
    assert components["TypedSettingsSettings"]["additionalProperties"] is False
    assert components["EchoChange"]["properties"]["settings"]["maxProperties"] == 0
    run = components["EchoRunNow"]
    assert run["required"] == ["payload"]
    assert run["properties"]["payload"] == {"$ref": "#/components/schemas/EchoPayload"}
    assert components["NoopRunNow"]["properties"]["payload"]["anyOf"][1] == {"type": "null"}
    # null clears a record's time zone: the enum component does not say it, the property does.
    timezone = components["EchoChange"]["properties"]["schedule_timezone"]["oneOf"]
    assert [alternative.get("type") for alternative in timezone] == ["string", "null"]
    # echo's payload has a required field, so it takes no schedule; noop's has none.
    assert components["EchoChange"]["properties"]["schedule"]["oneOf"][0] == {"type": "string", "enum": ["off"]}
    assert "pattern" in components["NoopChange"]["properties"]["schedule"]["oneOf"][1]
    # The pattern allows long lists; the length bound of the option's text is declared too.
    assert components["NoopChange"]["properties"]["schedule"]["oneOf"][1]["maxLength"] == 100
    assert components["NoopChange"]["properties"]["rate_limit"]["maxLength"] == 50
    # Nobody may run a built-in type: it has an edit operation and no run operation.
    assert "/api/job-types/jobqueue_prune/" in paths
    assert "/api/job-types/jobqueue_prune/run/" not in paths


def test_a_bulk_requeue_needs_a_body(api: APIClient, schema: dict[str, Any]) -> None:
    assert schema["paths"]["/api/dead-letters/requeue/"]["post"]["requestBody"]["required"] is True
    assert api.post("/api/dead-letters/requeue/").status_code == 400


def test_query_strings_declare_that_they_hold_no_nul(api: APIClient, schema: dict[str, Any]) -> None:
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/jobs/"]["get"]["parameters"]}
    assert parameters["unique_key"]["pattern"] == "^[^\\u0000]*$"
    assert api.get("/api/jobs/?unique_key=a%00b").status_code == 400
    # The search's own pattern (its syntax) has no NUL either.
    assert parameters["q"]["pattern"] == QUERY_PATTERN
    assert api.get("/api/jobs/?q=a%00b").status_code == 400


def test_a_search_the_pattern_allows_is_answered(api: APIClient) -> None:
    for query in (
        "  ",
        'dao_id=99999999999999999999 n=1e999 "x"y=1',
        "id=0123456789abcdef0123456789abcdef",
        "code=007 n=-01",  # leading zeros: text, not a number the parser then failed on (a 500)
    ):
        assert re.search(QUERY_PATTERN, query)
        assert api.get("/api/jobs/", {"q": query}).status_code == 200, query
    for query in ('"\\u0000"', '"a\\x"', "id=urn:uuid:0123456789abcdef0123456789abcdef"):
        assert not re.search(QUERY_PATTERN, query)
        assert api.get("/api/jobs/", {"q": query}).status_code == 400, query


def test_body_strings_declare_that_they_hold_no_nul(api: APIClient, schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    assert components["Reason"]["properties"]["reason"]["pattern"] == "^[^\\u0000]*$"
    # pydantic's "not blank" (\S) matches NUL too: it becomes "not blank and no NUL".
    text = components["TweetPayload"]["properties"]["text"]
    assert text["pattern"] == "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"
    waiting = api.post("/api/jobs/", {"type": "noop"}, format="json").json()
    response = api.post(f"/api/jobs/{waiting['id']}/cancel/", {"reason": "a\u0000b"}, format="json")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_options_is_not_offered(api: APIClient) -> None:
    for path in ("/api/jobs/", "/api/job-types/echo/", "/api/metrics/"):
        assert api.options(path).status_code == 405, path
    assert "PATCH" in api.options("/api/job-types/echo/")["Allow"]


def test_metrics_type_refuses_nul(api: APIClient) -> None:
    assert api.get("/api/metrics/?type=a%00b").status_code == 400
    assert api.get("/api/metrics/?type=echo").status_code == 200
