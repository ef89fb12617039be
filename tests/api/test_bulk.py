"""POST /api/jobs/bulk/: all or nothing, errors by index, the configurable maximum."""

from __future__ import annotations

import pytest
from django.test import override_settings

from jobqueue.models import Job

pytestmark = pytest.mark.django_db


def test_bulk_enqueues_all(api) -> None:
    jobs = [{"type": "echo", "payload": {"value": i}} for i in range(5)] + [{"type": "noop", "delay": 30}]
    response = api.post("/api/jobs/bulk/", {"jobs": jobs}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["count"] == 6
    assert set(body["ids"]) == {str(pk) for pk in Job.objects.values_list("pk", flat=True)}


def test_one_bad_item_enqueues_nothing_and_errors_come_by_index(api) -> None:
    jobs = [
        {"type": "echo", "payload": {"value": 1}},
        {"type": "echo", "payload": {"value": "x"}},
        {"type": "unknown_type"},
        {"type": "echo", "payload": {"value": 1}, "priority": "high"},
    ]
    response = api.post("/api/jobs/bulk/", {"jobs": jobs}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"1", "3"}  # shape errors (JSON types, in the payload too) are reported first
    assert "priority" in errors["3"]
    assert "payload.value" in errors["1"]
    jobs[1:] = jobs[2:3]
    response = api.post("/api/jobs/bulk/", {"jobs": jobs}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"1"}
    assert "type" in errors["1"]
    assert not Job.objects.exists()


@override_settings(JOBQUEUE={"API_BULK_MAX": 3})
def test_bulk_maximum(api) -> None:
    jobs = [{"type": "noop"}] * 4
    response = api.post("/api/jobs/bulk/", {"jobs": jobs}, format="json")
    assert response.status_code == 400
    assert "at most 3" in response.json()["errors"]["jobs"][0]
    assert api.post("/api/jobs/bulk/", {"jobs": jobs[:3]}, format="json").status_code == 201


@override_settings(JOBQUEUE={"API_MAX_READY_PER_TYPE": 2})
def test_bulk_over_the_backlog_bound_is_503(api) -> None:
    response = api.post("/api/jobs/bulk/", {"jobs": [{"type": "noop"}] * 3}, format="json")
    assert response.status_code == 503
    assert "Retry-After" in response
    assert not Job.objects.exists()


def test_bulk_needs_add_job(client_for) -> None:
    viewer = client_for("jobqueue.view_job")
    assert viewer.post("/api/jobs/bulk/", {"jobs": [{"type": "noop"}]}, format="json").status_code == 403
    assert viewer.get("/api/jobs/bulk/").status_code == 405
