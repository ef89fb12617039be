"""The dashboard page through the test client: verdict, charts with data, escaping, permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobqueue.models import ClusterHeartbeat, Job, JobType

pytestmark = pytest.mark.django_db


def test_index_links_to_the_dashboard(login: Callable[..., Client]) -> None:
    page = login().get(reverse("admin:index")).content.decode()
    assert reverse("admin:jobqueue_dashboard") in page


def test_dashboard_shows_health_charts_depth_and_clusters(login: Callable[..., Client], add_attempt: Any) -> None:
    for ms in (10, 20, 30):
        add_attempt("echo", "succeeded", duration_ms=ms, finished_ago=90)
    add_attempt("noop", "failed", duration_ms=5, finished_ago=30, dead=True)
    Job.objects.create(job_type=JobType.objects.get(name="echo"))
    ClusterHeartbeat.objects.create(key="web-1:42:abc", host="web-1", pid=42, workers=4, last_seen_at=timezone.now())

    response = login().get(reverse("admin:jobqueue_dashboard"))

    page = response.content.decode()
    assert response.status_code == 200
    assert '<span class="jq-verdict">healthy</span>' in page
    assert page.count('class="jq-bar jq-bar-ok"') >= 1
    assert page.count('class="jq-bar jq-bar-failed"') == 1
    assert "3 succeeded, 0 failed" in page
    assert "<title>echo p95: 30 ms</title>" in page
    assert '<td class="jq-ready">1</td>' in page
    assert "web-1:42:abc" in page
    assert 'http-equiv="refresh"' in page
    assert "Content-Security-Policy" in response


def test_dashboard_states_an_unhealthy_verdict_with_its_reason(login: Callable[..., Client]) -> None:
    Job.objects.create(job_type=JobType.objects.get(name="echo"))
    page = login().get(reverse("admin:jobqueue_dashboard"), {"window": "15m"}).content.decode()
    assert '<span class="jq-verdict">unhealthy</span>' in page
    assert "no_live_cluster" in page


def test_dashboard_escapes_type_names_and_survives_bad_windows(login: Callable[..., Client], add_attempt: Any) -> None:
    JobType.objects.create(name="<script>x()</script>", registered=False)
    add_attempt("<script>x()</script>", "succeeded")
    response = login().get(reverse("admin:jobqueue_dashboard"), {"window": "<b>"})
    assert response.status_code == 200
    assert "<script>x()" not in response.content.decode()
    assert "&lt;script&gt;x()" in response.content.decode()


def test_dashboard_needs_the_view_permission(make_user: Callable[..., Any]) -> None:
    client = Client()
    client.force_login(make_user("nobody"))
    assert client.get(reverse("admin:jobqueue_dashboard")).status_code == 403
