"""The operator's console in headless Chromium: the three-click path from a health reason to a
group re-queue, a payload search, a pause with a reason, the clusters page, live updates,
keyboard access and contrast. With JQ_SCREENSHOTS=docs the screenshots land in docs/ (see
`python -m bench.screenshots`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from jobqueue.models import Attempt, ClusterHeartbeat, DeadLetter, Job, JobType, Resolution, Status
from tests.admin.test_browser import ARTIFACTS, ROOT, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.database_independent(
        reason="what it proves is the browser's (scripts, layout, keyboard); the admin's queries behind "
        "these pages are tested on every leg through the test client"
    ),
]

# The contrast ratio of text to its background (WCAG 2), computed in the page for every badge,
# button and console link; the test asserts each one reaches 4.5:1.
CONTRAST_JS = """
function lum(c) {
  const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function background(el) {
  for (; el; el = el.parentElement) {
    const bg = getComputedStyle(el).backgroundColor;
    if (bg && !bg.startsWith("rgba(0, 0, 0, 0)") && bg !== "transparent") return bg;
  }
  return "rgb(255, 255, 255)";
}
return Array.from(document.querySelectorAll(arguments[0])).map(el => {
  const a = lum(getComputedStyle(el).color), b = lum(background(el));
  return [el.textContent.trim().slice(0, 30), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
});
"""


def shot(driver: Any, name: str) -> Path:
    folder = ROOT / "docs" if os.environ.get("JQ_SCREENSHOTS") == "docs" else ARTIFACTS
    folder.mkdir(exist_ok=True)
    path = folder / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    return path


def failing(type_name: str, message: str, *, ago: float, dead: bool = True) -> Job:
    finished = timezone.now() - timezone.timedelta(seconds=ago)
    job = Job.objects.create(
        job_type=JobType.objects.get(name=type_name),
        payload={"value": int(ago)},
        status=Status.DEAD if dead else Status.SUCCEEDED,
        attempts=1,
        started_at=finished - timezone.timedelta(milliseconds=80),
        finished_at=finished,
        last_error=f"TimeoutError: {message}" if dead else "",
    )
    Attempt.objects.create(
        job=job,
        job_type=job.job_type,
        number=1,
        outcome="failed" if dead else "succeeded",
        finished_at=finished,
        duration_ms=80,
        error_type="TimeoutError" if dead else "",
        error_message=message if dead else "",
        traceback=f'Traceback (most recent call last):\n  File "tasks/social.py", line 88, in execute\nTimeoutError: {message}'
        if dead
        else "",
    )
    if dead:
        DeadLetter.objects.create(
            job=job,
            job_type=job.job_type,
            reason="attempts_exhausted",
            error_type="TimeoutError",
            error_message=message,
            traceback="tb",
            payload=job.payload,
            attempts=1,
            created_at=finished,
        )
    return job


def no_horizontal_scroll(driver: Any) -> bool:
    """Neither the page nor a table's own scroll box (the admin's `.results`) scrolls sideways."""
    return bool(
        driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth && "
            "Array.from(document.querySelectorAll('.results, .jq-scroll, table'))"
            ".every(el => el.scrollWidth <= el.clientWidth + 1)"
        )
    )


def assert_contrast(driver: Any, selector: str) -> None:
    ratios = driver.execute_script(CONTRAST_JS, selector)
    assert ratios, f"nothing matched {selector}"
    low = [(text, round(ratio, 2)) for text, ratio in ratios if ratio < 4.5]
    assert not low, low


def tab_until(browser: Any, selector: str, limit: int = 300) -> Any:
    """Tab from the top of the page to the first element matching `selector`, which must show its focus."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.find_element(By.TAG_NAME, "body").click()
    for _ in range(limit):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        active = browser.switch_to.active_element
        if browser.execute_script("return arguments[0].matches(arguments[1])", active, selector):
            outline = browser.execute_script("return getComputedStyle(arguments[0]).outlineStyle", active)
            assert outline != "none", f"{selector} has no visible focus"
            return active
    raise AssertionError(f"{selector} is not reachable with the Tab key")


def test_three_clicks_from_the_health_reason_to_a_group_requeue(browser: Any, live_server: Any, make_user: Any) -> None:
    from selenium.webdriver.common.by import By

    dead = [failing("echo", f"upstream timed out after {30 + i} s", ago=60 + 20 * i) for i in range(12)]
    for i in range(3):
        failing("echo", "", ago=90 + i, dead=False)
    log_in(browser, live_server, make_user)
    browser.get(f"{live_server.url}/admin/jobqueue/job/dashboard/")
    assert browser.find_element(By.CSS_SELECTOR, ".jq-verdict").text == "unhealthy"

    browser.find_element(By.CSS_SELECTOR, "a.jq-reason-link").click()  # 1: the failing type's groups
    group = browser.find_element(By.CSS_SELECTOR, "tr.jq-failure-group")
    assert "upstream timed out after <n> s" in group.text
    assert "12" in group.text
    assert browser.find_element(By.CSS_SELECTOR, "svg.jq-spark")
    assert no_horizontal_scroll(browser)
    shot(browser, "failures.png")

    browser.find_element(By.CSS_SELECTOR, "a.jq-group-link").click()  # 2: the group and its traceback
    traceback = browser.find_element(By.CSS_SELECTOR, "pre.jq-traceback").text
    assert 'File "tasks/social.py", line 88' in traceback
    assert "TimeoutError: upstream timed out after 30 s" in traceback
    button = browser.find_element(By.CSS_SELECTOR, "form.jq-group-requeue button")
    assert button.text == "Re-queue 12 dead letters"
    shot(browser, "failure-group.png")

    button.click()  # 3: re-queue the group's dead letters
    assert "Re-queued 12 dead letter(s)" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert DeadLetter.objects.filter(job__in=dead, resolution=Resolution.REQUEUED).count() == 12
    assert Job.objects.filter(rerun_of__in=dead, status=Status.QUEUED).count() == 12


def test_a_payload_search_in_the_job_list_fits_1280_px(browser: Any, live_server: Any, make_user: Any) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    echo = JobType.objects.get(name="echo")
    hit = Job.objects.create(job_type=echo, payload={"value": 42, "label": "DAO launch day"})
    Job.objects.create(job_type=echo, payload={"value": 42, "label": "weekly digest"})
    Job.objects.create(job_type=echo, payload={"value": 7, "label": "launch"})
    Job.objects.create(job_type=JobType.objects.get(name="dao_proposal_evaluation"), payload={"proposal_id": 1})
    for i in range(30):
        failing("echo", f"upstream timed out after {i} s while posting a very long thread to the API", ago=30 + i)
    log_in(browser, live_server, make_user)
    browser.get(f"{live_server.url}/admin/jobqueue/job/")
    assert no_horizontal_scroll(browser)
    row = browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr")
    assert row.find_element(By.CSS_SELECTOR, ".jq-badge").text
    assert "ago" in row.find_element(By.CSS_SELECTOR, "time.jq-time").text
    shot(browser, "jobs.png")

    box = browser.find_element(By.ID, "searchbar")
    box.send_keys('value=42 label~"launch"', Keys.ENTER)

    def ids(driver: Any) -> list[str]:
        return [e.get_attribute("title") for e in driver.find_elements(By.CSS_SELECTOR, "#result_list .jq-id")]

    # The old page may still be there for a moment: wait for the search's answer.
    WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: "q=" in d.current_url and ids(d) == [str(hit.pk)]
    )
    assert browser.find_element(By.CSS_SELECTOR, "#result_list .jq-copy").get_attribute("data-copy") == str(hit.pk)

    box = browser.find_element(By.ID, "searchbar")
    box.clear()
    box.send_keys('label~"launch', Keys.ENTER)
    assert "quoted value is not closed" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text


def test_pause_a_type_with_a_reason_from_its_page(browser: Any, live_server: Any, make_user: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    for i in range(20):
        failing("echo", f"timed out after {i} s", ago=300 * i + 30, dead=i % 4 == 0)
    record = JobType.objects.get(name="echo")
    log_in(browser, live_server, make_user)
    browser.get(f"{live_server.url}/admin/jobqueue/jobtype/{record.pk}/overview/")
    assert browser.find_element(By.CSS_SELECTOR, ".jq-type-state").text == "running"
    assert browser.find_elements(By.CSS_SELECTOR, ".jq-window-24h svg.jq-throughput rect.jq-bar")
    assert "code" in browser.find_element(By.CSS_SELECTOR, ".jq-option-max_attempts").text
    assert no_horizontal_scroll(browser)
    shot(browser, "jobtype.png")

    reason = browser.find_element(By.CSS_SELECTOR, "form.jq-pause-form input[name=reason]")
    reason.send_keys("provider outage, ticket 812", Keys.ENTER)  # the keyboard submits the form
    assert "Job type echo is paused" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert browser.find_element(By.CSS_SELECTOR, ".jq-type-state").text == "paused"
    record.refresh_from_db()
    assert record.enabled is False


def test_clusters_page_shows_running_jobs_and_stale_clusters(browser: Any, live_server: Any, make_user: Any) -> None:
    from selenium.webdriver.common.by import By

    now = timezone.now()
    ClusterHeartbeat.objects.create(key="web-1:4242:a1", host="web-1", pid=4242, workers=4, last_seen_at=now)
    ClusterHeartbeat.objects.create(
        key="web-2:77:b2", host="web-2", pid=77, workers=2, last_seen_at=now - timezone.timedelta(minutes=20)
    )
    for i, (worker, progress) in enumerate([("web-1:5001", 0.25), ("web-1:5002", 0.8)]):
        Job.objects.create(
            job_type=JobType.objects.get(name="echo"),
            status=Status.RUNNING,
            claimed_by="web-1:4242:a1",
            worker=worker,
            started_at=now - timezone.timedelta(seconds=30 * (i + 1)),
            progress=progress,
            progress_message=f"page {i + 1} of 4",
        )
    log_in(browser, live_server, make_user)
    browser.get(f"{live_server.url}/admin/jobqueue/job/clusters/")
    live = browser.find_element(By.CSS_SELECTOR, ".jq-cluster").text
    assert "web-1:4242:a1" in live
    assert "web-1:5001" in live
    assert "page 2 of 4" in live
    assert "2 idle" in live
    assert "web-2:77:b2" in browser.find_element(By.CSS_SELECTOR, ".jq-stale-clusters").text
    assert no_horizontal_scroll(browser)
    shot(browser, "clusters.png")


def test_pages_update_in_place(browser: Any, live_server: Any, make_user: Any, settings: Any) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings.JOBQUEUE = {**getattr(settings, "JOBQUEUE", {}), "DASHBOARD_REFRESH": 1}
    # The content is replaced every second: an element found may be gone when it is read.
    wait = WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException])
    log_in(browser, live_server, make_user)
    browser.get(f"{live_server.url}/admin/jobqueue/job/dashboard/")
    browser.execute_script("window.__notReloaded = true")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".jq-ready").text == "0")
    Job.objects.create(job_type=JobType.objects.get(name="echo"))
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".jq-ready").text == "1")
    assert browser.execute_script("return window.__notReloaded === true")

    browser.get(f"{live_server.url}/admin/jobqueue/job/")
    browser.execute_script("window.__notReloaded = true")
    before = len(browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr"))
    Job.objects.create(job_type=JobType.objects.get(name="noop"))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")) == before + 1)
    assert browser.execute_script("return window.__notReloaded === true")


def test_keyboard_reaches_every_action_and_text_keeps_its_contrast(
    browser: Any, live_server: Any, make_user: Any, settings: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    # No live refresh while tabbing: a list swapped in place takes the focus with it (the
    # live updates have their own test).
    settings.JOBQUEUE = {**getattr(settings, "JOBQUEUE", {}), "DASHBOARD_REFRESH": 0}

    failing("echo", "timed out after 3 s", ago=60)
    log_in(browser, live_server, make_user)
    browser.get(f"{live_server.url}/admin/jobqueue/job/failures/")
    assert_contrast(browser, ".jq-badge, .jq-button, .jq-nav a, .jq-group-link, .jq-failure-groups td")

    tab_until(browser, "a.jq-group-link").send_keys(Keys.ENTER)
    assert browser.find_element(By.CSS_SELECTOR, "pre.jq-traceback")
    assert_contrast(browser, ".jq-button, .jq-facts td, .jq-traceback")
    tab_until(browser, "pre.jq-traceback")  # focusable, so that a long traceback scrolls from the keyboard
    tab_until(browser, "form.jq-group-requeue button").send_keys(Keys.ENTER)
    assert "Re-queued 1 dead letter(s)" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text

    record = JobType.objects.get(name="echo")
    browser.get(f"{live_server.url}/admin/jobqueue/jobtype/{record.pk}/overview/")
    assert_contrast(browser, ".jq-button, .jq-config td")
    tab_until(browser, "form.jq-pause-form input[name=reason]").send_keys("keyboard only")
    tab_until(browser, "form.jq-pause-form button").send_keys(Keys.ENTER)
    assert "is paused" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text  # the new page
    assert browser.find_element(By.CSS_SELECTOR, ".jq-type-state").text == "paused"

    browser.get(f"{live_server.url}/admin/jobqueue/job/clusters/")
    tab_until(browser, ".jq-nav a")
    browser.get(f"{live_server.url}/admin/jobqueue/job/")
    tab_until(browser, "#result_list a")
    tab_until(browser, "#result_list button.jq-copy")
    assert_contrast(browser, "#result_list .jq-badge")


def test_discard_a_group_with_a_reason_from_the_keyboard(
    browser: Any, live_server: Any, make_user: Any, settings: Any
) -> None:
    """Discarding resolves the group's dead letters as discarded (their jobs stay dead, nothing
    is enqueued) and audits the reason and the user; without a reason it changes nothing."""
    import json

    from django.contrib.admin.models import LogEntry
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    settings.JOBQUEUE = {**getattr(settings, "JOBQUEUE", {}), "DASHBOARD_REFRESH": 0}  # no swap under the focus
    group = [failing("echo", f"upstream timed out after {40 + i} s", ago=60 + 20 * i) for i in range(4)]
    other = failing("echo", "'dao_7'", ago=90)  # another group (another message): left alone
    log_in(browser, live_server, make_user)
    browser.get(f"{live_server.url}/admin/jobqueue/job/failures/")
    tab_until(browser, "a.jq-group-link").send_keys(Keys.ENTER)
    assert "upstream timed out after <n> s" in browser.find_element(By.CSS_SELECTOR, "td.jq-error").text
    button = browser.find_element(By.CSS_SELECTOR, "form.jq-group-discard button")
    assert button.text == "Discard 4 dead letters"

    def unchanged() -> None:
        assert "Write a reason" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
        assert DeadLetter.objects.filter(resolution="").count() == 5
        assert not LogEntry.objects.filter(change_message__contains="discard").exists()
        assert browser.find_element(By.CSS_SELECTOR, "form.jq-group-discard button").text == "Discard 4 dead letters"

    # A blank reason (spaces only), then no reason field at all: refused, nothing discarded.
    tab_until(browser, "form.jq-group-discard input[name=discard-reason]").send_keys("   ")
    tab_until(browser, "form.jq-group-discard button").send_keys(Keys.ENTER)
    unchanged()
    browser.execute_script("document.querySelector('form.jq-group-discard input[name=discard-reason]').remove()")
    tab_until(browser, "form.jq-group-discard button").send_keys(Keys.ENTER)
    unchanged()

    reason = "provider deleted the threads, ticket 913"
    tab_until(browser, "form.jq-group-discard input[name=discard-reason]").send_keys(reason)
    tab_until(browser, "form.jq-group-discard button").send_keys(Keys.ENTER)
    assert "Discarded 4 dead letter(s) of echo" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert "no unresolved dead letter" in browser.find_element(By.ID, "jq-failure-group").text

    for dead in DeadLetter.objects.filter(job__in=group):
        assert dead.resolution == Resolution.DISCARDED
        assert dead.resolution_reason == reason
        assert dead.resolved_by == "user:admin"
        assert dead.resolved_at is not None
        assert dead.requeued_job_id is None
    assert Job.objects.filter(pk__in=[job.pk for job in group], status=Status.DEAD).count() == 4
    assert not Job.objects.filter(rerun_of__in=group).exists()  # discarded, not run again
    assert DeadLetter.objects.get(job=other).resolution == ""

    summary = LogEntry.objects.get(content_type__model="jobtype", object_id=str(JobType.objects.get(name="echo").pk))
    assert summary.user.get_username() == "admin"
    assert json.loads(summary.change_message) == {
        "action": "discard group",
        "reason": reason,
        "outcome": "4 discarded, 0 refused: TimeoutError: upstream timed out after <n> s",
    }
    each = LogEntry.objects.filter(object_id__in=[str(d.pk) for d in DeadLetter.objects.filter(job__in=group)])
    assert (
        sorted((e.user.get_username(), json.loads(e.change_message)["reason"]) for e in each) == [("admin", reason)] * 4
    )
