"""The OpenAPI document is the exact contract: strict bodies, JSON types, validated query parameters,
per-operation security, and every response type real."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from jobqueue import enqueue

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api: APIClient) -> dict[str, Any]:
    return dict(api.get("/api/schema/?format=json").json())


def test_request_bodies_refuse_unknown_fields_in_the_schema_too(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for name in ("Reason", "Discard", "Requeue", "BulkRequeue", "RunNow", "PatchedJobTypeChange", "EnqueueEcho"):
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
