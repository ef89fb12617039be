"""The console's pages without a browser: the job list's columns and search, the job type form's
overrides, the per-type page with pause / resume, the clusters page, and the dashboard's links."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobqueue.models import ClusterHeartbeat, Job, JobType, Status
from tests.admin.test_jobtypes import form_data

pytestmark = pytest.mark.django_db


def test_job_list_shows_short_ids_badges_relative_times_and_error_snippets(login: Callable[..., Client]) -> None:
    job = Job.objects.create(
        job_type=JobType.objects.get(name="echo"),
        status=Status.DEAD,
        last_error="TimeoutError: " + "x" * 300,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    body = login().get(reverse("admin:jobqueue_job_changelist")).content.decode()
    full = str(job.pk)
    assert f'title="{full}">{full[:8]}</span>' in body
    assert f'data-copy="{full}"' in body
    assert 'class="jq-badge jq-badge-bad">dead</span>' in body
    assert "s ago</time>" in body
    assert "<time" in body
    assert "TimeoutError: xxx" in body
    assert "x" * 200 not in body.split("jq-snippet")[1].split("</span>")[0].split(">")[1]
    assert "jobqueue/console.js" in body
    assert "data-jq-list-refresh" in body

    fragment = login().get(reverse("admin:jobqueue_job_changelist"), {"_fragment": "1", "status__exact": "dead"})
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert "<html" not in text
    assert 'id="result_list"' in text
    assert full[:8] in text


def test_job_list_search_syntax_and_its_error_message(login: Callable[..., Client]) -> None:
    hit = Job.objects.create(job_type=JobType.objects.get(name="echo"), payload={"value": 42})
    Job.objects.create(job_type=JobType.objects.get(name="echo"), payload={"value": 41})
    client = login()
    url = reverse("admin:jobqueue_job_changelist")
    found = client.get(url, {"q": "value=42"}).content.decode()
    assert str(hit.pk)[:8] in found
    assert found.count('class="jq-id"') == 1
    bad = client.get(url, {"q": 'value~"open'}).content.decode()
    assert "Search not understood" in bad
    assert "quoted value is not closed" in bad


def test_job_type_form_names_code_defaults_and_clears_overrides(login: Callable[..., Client]) -> None:
    record = JobType.objects.get(name="echo")
    record.max_attempts = 7
    record.save()
    client = login("jobqueue.change_jobtype")
    url = reverse("admin:jobqueue_jobtype_change", args=[record.pk])
    page = client.get(url).content.decode()
    assert "Unknown" not in page
    assert "use the code default (yes)" in page
    assert "code default: 1" in page  # echo's max_attempts in code
    assert "clear the override (use the code default: 1)" in page

    client.post(url, form_data(client, record, enabled="False"))
    record.refresh_from_db()
    assert record.enabled is False
    assert record.max_attempts == 7
    client.post(url, form_data(client, record, clear_max_attempts="on", enabled=""))
    record.refresh_from_db()
    assert record.max_attempts is None
    assert record.enabled is None

    listing = client.get(reverse("admin:jobqueue_jobtype_changelist")).content.decode()
    assert "Unknown" not in listing
    assert "Paused" in listing
    record.enabled = False
    record.save()
    paused = client.get(reverse("admin:jobqueue_jobtype_changelist"), {"running": "no"}).content.decode()
    assert ">echo<" in paused
    assert ">noop<" not in paused


def test_type_page_shows_history_configuration_and_pauses_with_a_reason(
    login: Callable[..., Client], add_attempt: Any
) -> None:
    for i in range(5):
        add_attempt("echo", "succeeded", duration_ms=100 + i, finished_ago=3600 * i + 30)
    add_attempt("echo", "failed", duration_ms=50, finished_ago=90)
    record = JobType.objects.get(name="echo")
    url = reverse("admin:jobqueue_jobtype_overview", args=[record.pk])

    viewer = login("jobqueue.view_jobtype")
    page = viewer.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Last 24h" in body
    assert "Last 7d" in body
    assert "jq-lines" in body
    summary = page.context["windows"][0]["summary"]
    assert (summary.succeeded, summary.failed, summary.attempts) == (5, 1, 6)
    assert summary.p50 is not None
    assert 100 <= summary.p50 <= 104
    assert 'class="jq-option-max_attempts"' in body
    assert "Pause echo" not in body
    assert (
        viewer.post(reverse("admin:jobqueue_jobtype_pause", args=[record.pk]), {"action": "pause"}).status_code == 403
    )

    operator = login("jobqueue.view_jobtype", "jobqueue.change_jobtype")
    assert "Pause echo" in operator.get(url).content.decode()
    pause_url = reverse("admin:jobqueue_jobtype_pause", args=[record.pk])
    refused = operator.post(pause_url, {"action": "pause", "reason": ""}, follow=True).content.decode()
    assert "Write a reason to pause echo" in refused
    record.refresh_from_db()
    assert record.enabled is None
    operator.post(pause_url, {"action": "pause", "reason": "provider outage"})
    record.refresh_from_db()
    assert record.enabled is False
    entry = LogEntry.objects.filter(object_id=str(record.pk)).latest("pk")
    assert '"pause"' in entry.change_message
    assert "provider outage" in entry.change_message
    assert "Resume echo" in operator.get(url).content.decode()
    operator.post(pause_url, {"action": "resume", "reason": "provider is back"})
    record.refresh_from_db()
    assert record.enabled is True


def test_pause_refused_when_pinned_by_the_environment(login: Callable[..., Client], monkeypatch: Any) -> None:
    monkeypatch.setenv("JOBQUEUE_ECHO_ENABLED", "true")
    record = JobType.objects.get(name="echo")
    operator = login("jobqueue.view_jobtype", "jobqueue.change_jobtype")
    response = operator.post(
        reverse("admin:jobqueue_jobtype_pause", args=[record.pk]), {"action": "pause", "reason": "x"}, follow=True
    )
    assert "JOBQUEUE_ECHO_ENABLED" in response.content.decode()
    record.refresh_from_db()
    assert record.enabled is None


def test_clusters_page_shows_what_each_worker_runs_and_stale_clusters(login: Callable[..., Client]) -> None:
    now = timezone.now()
    ClusterHeartbeat.objects.create(key="web-1:42:aa", host="web-1", pid=42, workers=3, last_seen_at=now)
    ClusterHeartbeat.objects.create(
        key="web-2:7:bb", host="web-2", pid=7, workers=2, last_seen_at=now - timezone.timedelta(minutes=10)
    )
    running = Job.objects.create(
        job_type=JobType.objects.get(name="echo"),
        status=Status.RUNNING,
        claimed_by="web-1:42:aa",
        worker="web-1:4301",
        started_at=now,
        progress=0.4,
        progress_message="step 2 of 5",
    )
    page = login().get(reverse("admin:jobqueue_clusters"))
    activity = page.context["activity"]
    assert [a.cluster.key for a in activity.live] == ["web-1:42:aa"]
    assert activity.live[0].running[0].job_id == running.pk
    assert activity.live[0].idle == 2
    assert [a.cluster.key for a in activity.stale] == ["web-2:7:bb"]
    body = page.content.decode()
    assert "web-1:4301" in body
    assert "step 2 of 5" in body
    assert "40 %" in body
    assert str(running.pk)[:8] in body


def test_dashboard_links_a_failure_rate_reason_to_the_failing_type(
    login: Callable[..., Client], add_attempt: Any
) -> None:
    for i in range(12):
        add_attempt("echo", "failed", finished_ago=60 + i, dead=True)
    page = login().get(reverse("admin:jobqueue_dashboard"))
    body = page.content.decode()
    assert 'class="jq-reason-link" href="/admin/jobqueue/job/failures/?type=echo&amp;window=1h"' in body
    fragment = login().get(reverse("admin:jobqueue_dashboard"), {"fragment": "1"}).content.decode()
    assert "<html" not in fragment
    assert "jq-verdict" in fragment


def test_console_pages_keep_the_content_security_policy(login: Callable[..., Client], make_dead_letter: Any) -> None:
    make_dead_letter()
    client = login()
    for name in ("jobqueue_dashboard", "jobqueue_failures", "jobqueue_clusters", "jobqueue_deadletter_changelist"):
        response = client.get(reverse(f"admin:{name}"))
        assert response.status_code == 200
        assert "script-src 'self'" in response["Content-Security-Policy"]
        body = response.content.decode()
        assert "<script>" not in body  # every script is a file of this site
        assert "jobqueue/console.js" in body


def test_dead_letter_list_refreshes_its_rows(login: Callable[..., Client], make_dead_letter: Any) -> None:
    dead = make_dead_letter(error="boom at step 3")
    client = login()
    page = client.get(reverse("admin:jobqueue_deadletter_changelist")).content.decode()
    assert "data-jq-list-refresh" in page
    assert f'title="{dead.pk}">{str(dead.pk)[:8]}</span>' in page
    rows = client.get(reverse("admin:jobqueue_deadletter_changelist"), {"_fragment": "1", "resolution__exact": ""})
    text = rows.content.decode()
    assert "<html" not in text
    assert "RuntimeError: boom at step 3" in text
