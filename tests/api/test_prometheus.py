"""GET /api/metrics/prometheus/, read with prometheus_client's own parser: families, types,
counters from the rollup's totals, histograms from its bins, and counters that pruning keeps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from jobqueue import enqueue
from jobqueue.services.retention import prune
from tests.test_rollup import minute_now, roll_all, start_rollup_at

pytestmark = pytest.mark.django_db


def scrape(client: Any) -> dict[str, Any]:
    response = client.get("/api/metrics/prometheus/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def value(family: Any, name: str | None = None, **labels: str) -> float:
    (sample,) = [s for s in family.samples if (name is None or s.name == name) and s.labels == labels]
    return float(sample.value)


def seed(add_attempt: Callable[..., Any], now: Any) -> None:
    for ms in (3, 40, 40, 900):
        add_attempt("echo", "succeeded", duration_ms=ms, wait_ms=ms, finished_ago=600, now=now)
    add_attempt("echo", "failed", duration_ms=7, finished_ago=600, now=now)
    add_attempt("echo", "failed", duration_ms=8, number=2, dead=True, finished_ago=590, now=now)


def test_exposition_parses_with_counters_histograms_and_gauges(
    client_for: Callable[..., Any], add_attempt: Callable[..., Any]
) -> None:
    now = minute_now()
    start_rollup_at(now - timedelta(minutes=30))
    seed(add_attempt, now)
    enqueue("echo", {"value": 1})
    roll_all(now)

    families = scrape(client_for("jobqueue.view_job"))

    kinds = {name: family.type for name, family in families.items()}
    assert kinds["jobqueue_jobs_finished"] == "counter"  # the parser strips `_total`
    assert kinds["jobqueue_attempts"] == "counter"
    assert kinds["jobqueue_jobs_enqueued"] == "counter"
    assert kinds["jobqueue_attempt_duration_seconds"] == "histogram"
    assert kinds["jobqueue_job_wait_seconds"] == "histogram"
    assert kinds["jobqueue_ready_jobs"] == kinds["jobqueue_clusters"] == "gauge"
    finished = families["jobqueue_jobs_finished"]
    assert value(finished, type="echo", outcome="succeeded") == 4
    assert value(finished, type="echo", outcome="dead") == 1
    assert value(families["jobqueue_attempts"], type="echo", outcome="failed") == 2
    assert value(families["jobqueue_attempts_retried"], type="echo") == 1
    assert value(families["jobqueue_jobs_enqueued"], type="echo") == 6  # the seeded jobs; the new one is not rolled yet
    assert value(families["jobqueue_ready_jobs"], type="echo") == 2  # the new job and the retrying one

    duration = families["jobqueue_attempt_duration_seconds"]
    buckets = [s for s in duration.samples if s.name.endswith("_bucket") and s.labels["type"] == "echo"]
    bounds = [float(s.labels["le"]) for s in buckets]
    counts = [s.value for s in buckets]
    assert bounds == sorted(bounds)
    assert bounds[-1] == float("inf")
    assert counts == sorted(counts)  # cumulative
    assert counts[-1] == value(duration, "jobqueue_attempt_duration_seconds_count", type="echo") == 6
    assert value(duration, "jobqueue_attempt_duration_seconds_sum", type="echo") == pytest.approx(0.998)
    assert max(c for b, c in zip(bounds, counts, strict=True) if b < 0.003) == 0  # 3 ms is the fastest
    assert min(c for b, c in zip(bounds, counts, strict=True) if b >= 0.9 * 2**0.5) == 6
    at_50ms = max(c for b, c in zip(bounds, counts, strict=True) if b <= 0.05)
    assert at_50ms == 5  # 3, 7, 8, 40, 40 ms


def test_pruning_never_lowers_a_counter(client_for: Callable[..., Any], add_attempt: Callable[..., Any]) -> None:
    now = minute_now()
    start_rollup_at(now - timedelta(minutes=30))
    seed(add_attempt, now)
    roll_all(now)
    client = client_for("jobqueue.view_job")
    before = scrape(client)

    with override_settings(JOBQUEUE={"METRICS_RETENTION": 60, "DEFAULT_RETENTION": 60}):
        assert prune().jobs > 0
        after = scrape(client)

    for name in ("jobqueue_jobs_finished", "jobqueue_attempts", "jobqueue_attempt_duration_seconds"):
        samples: list[Sample] = after[name].samples
        assert samples == before[name].samples, name
