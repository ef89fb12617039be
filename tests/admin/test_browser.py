"""The admin in a real headless Chromium (Debian's, through its chromedriver) against the live server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from jobqueue.models import Attempt, ClusterHeartbeat, DeadLetter, Job, JobType, Resolution, Status

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.database_independent(
        reason="what it proves is the browser's (scripts, layout, keyboard); the admin's queries behind "
        "these pages are tested on every leg through the test client"
    ),
]

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "artifacts"
PASSWORD = "pw-for-tests-only"


def log_in(browser: Any, live_server: Any, make_user: Any, *perms: str, superuser: bool = True) -> None:
    from selenium.webdriver.common.by import By

    make_user("admin", *perms, superuser=superuser)
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.ID, "user-tools")  # waits (implicitly) for the logged-in page
    assert "/admin/login/" not in browser.current_url


def screenshot(browser: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    browser.save_screenshot(str(path))
    return path


def test_dashboard_draws_its_charts_with_data(browser: Any, live_server: Any, make_user: Any, add_attempt: Any) -> None:
    from selenium.webdriver.common.by import By

    for i in range(40):
        add_attempt("echo", "succeeded", duration_ms=20 + i * 5, wait_ms=50, finished_ago=60 * (i % 30) + 5)
    for i in range(6):
        add_attempt("noop", "failed", duration_ms=300, finished_ago=60 * i + 10, dead=True)
    Job.objects.create(job_type=JobType.objects.get(name="echo"), priority=50)
    ClusterHeartbeat.objects.create(
        key="web-1:4242:demo", host="web-1", pid=4242, workers=4, last_seen_at=timezone.now()
    )
    log_in(browser, live_server, make_user)

    browser.find_element(By.CSS_SELECTOR, "#jq-dashboard-link a").click()

    assert browser.find_element(By.CSS_SELECTOR, ".jq-verdict").text in {"healthy", "degraded", "unhealthy"}
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.jq-throughput rect.jq-bar")
    assert len(bars) >= 10
    assert any(bar.size["height"] > 0 for bar in bars)
    assert browser.find_elements(By.CSS_SELECTOR, "svg.jq-throughput rect.jq-bar-failed")
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.jq-bars rect.jq-bar")) >= 4
    assert "web-1:4242:demo" in browser.find_element(By.CSS_SELECTOR, ".jq-clusters").text
    shot = screenshot(browser, "dashboard.png")
    assert shot.stat().st_size > 10_000


def test_requeue_a_dead_letter_from_its_page(
    browser: Any, live_server: Any, make_user: Any, make_dead_letter: Any
) -> None:
    from selenium.webdriver.common.by import By

    dead = make_dead_letter(payload={"value": "oops"})
    log_in(browser, live_server, make_user)
    browser.get(f"{live_server.url}/admin/jobqueue/deadletter/{dead.pk}/change/")
    browser.find_element(By.CSS_SELECTOR, "a.jq-requeue").click()
    payload = browser.find_element(By.NAME, "payload")
    payload.clear()
    payload.send_keys('{"value": 5}')
    browser.find_element(By.NAME, "reason").send_keys("fixed the payload")
    browser.find_element(By.CSS_SELECTOR, "form.jq-confirm input[type=submit]").click()

    assert "Re-queued as job" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text  # waits for the redirect
    dead.refresh_from_db()
    assert dead.resolution == Resolution.REQUEUED
    assert DeadLetter.objects.get(pk=dead.pk).requeued_job.payload["value"] == 5  # type: ignore[union-attr]


def test_an_xss_payload_does_not_execute(browser: Any, live_server: Any, make_user: Any) -> None:
    from selenium.webdriver.common.by import By

    script = "<script>window.__xss = 1</script>"
    image = '<img src=x onerror="window.__xss = 2">'
    job = Job.objects.create(
        job_type=JobType.objects.get(name="echo"),
        status=Status.DEAD,
        attempts=1,
        payload={"value": 1, "label": script + image},
        last_error=image,
    )
    Attempt.objects.create(
        job=job,
        number=1,
        outcome="failed",
        duration_ms=12,
        error_type="ValueError",
        error_message=script + image,
        traceback=f"Traceback\n{image}",
        logs=[{"at": "now", "level": "ERROR", "message": script}],
    )
    log_in(browser, live_server, make_user)

    browser.get(f"{live_server.url}/admin/jobqueue/job/{job.pk}/change/")

    assert browser.execute_script("return window.__xss === undefined")
    assert script in browser.find_element(By.CSS_SELECTOR, ".jq-attempt .jq-error").text
    assert not browser.find_elements(By.CSS_SELECTOR, ".jq-attempt img")
    screenshot(browser, "job.png")
