"""GET /api/metrics/, /api/health/, /api/metrics/prometheus/."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from jobqueue import enqueue
from jobqueue.models import ClusterHeartbeat

pytestmark = pytest.mark.django_db


def test_metrics_report_the_window_and_filter_by_type(client_for, add_attempt) -> None:
    add_attempt("echo", "succeeded", duration_ms=100)
    add_attempt("echo", "succeeded", duration_ms=300)
    add_attempt("noop", "failed", duration_ms=50)
    viewer = client_for("jobqueue.view_job")
    body = viewer.get("/api/metrics/?window=1h").json()
    assert body["window"] == "1h"
    assert body["total"]["counts"]["succeeded"] == 2
    echo = viewer.get("/api/metrics/?window=15m&type=echo").json()
    assert [t["name"] for t in echo["types"]] == ["echo"]
    assert echo["types"][0]["duration"]["max"] == 300
    bad = viewer.get("/api/metrics/?window=2h")
    assert bad.status_code == 400
    assert "window" in bad.json()["errors"]


def test_metrics_need_view_permission(client_for) -> None:
    assert APIClient().get("/api/metrics/").status_code == 401
    assert client_for().get("/api/metrics/").status_code == 403


def test_health_without_credentials_is_the_verdict_only(client_for) -> None:
    enqueue("echo", {"value": 1})  # ready work and no live cluster: unhealthy
    anonymous = APIClient().get("/api/health/")
    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "unhealthy"}
    detailed = client_for("jobqueue.view_job").get("/api/health/")
    assert detailed.status_code == 503
    assert any(check["rule"] == "no_live_cluster" for check in detailed.json()["checks"])


def test_health_is_200_with_a_live_cluster(client_for) -> None:
    ClusterHeartbeat.objects.create(key="h:1:x", host="h", pid=1, workers=2, last_seen_at=timezone.now())
    response = client_for("jobqueue.view_job").get("/api/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["clusters"][0]["state"] == "live"


def test_prometheus_text_needs_a_login_unless_public(client_for, add_attempt) -> None:
    add_attempt("echo", "succeeded", duration_ms=200)
    enqueue("echo", {"value": 1})
    assert APIClient().get("/api/metrics/prometheus/").status_code == 401
    text = client_for("jobqueue.view_job").get("/api/metrics/prometheus/").content.decode()
    assert 'jobqueue_ready_jobs{type="echo"} 1' in text
    assert "# TYPE jobqueue_jobs_finished_total counter" in text
    with override_settings(JOBQUEUE={"PROMETHEUS_PUBLIC": True}):
        assert APIClient().get("/api/metrics/prometheus/").status_code == 200
