"""The dashboard's numbers for a chosen window: health and its reasons, throughput, durations,
queue depth, dead letters and clusters (the page itself is served by jobqueue.admin.console)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.urls import reverse
from django.utils.http import urlencode

from jobqueue.admin import charts
from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import JobType
from jobqueue.observability import health, metrics


def reason_link(reason: health.Reason, window: str) -> str:
    """Where an operator goes from a health reason: the type's failure groups for a failure rate,
    the type's page for a slow or late type, all failure groups for the dead-letter rate."""
    failures = reverse("admin:jobqueue_failures")
    if reason.rule == "failure_rate" and reason.job_type:
        return f"{failures}?{urlencode({'type': reason.job_type, 'window': window})}"
    if reason.rule == "dead_letter_rate":
        return f"{failures}?{urlencode({'window': window})}"
    if reason.job_type:
        pk = JobType.objects.filter(name=reason.job_type).values_list("pk", flat=True).first()
        if pk is not None:
            return reverse("admin:jobqueue_jobtype_overview", args=[pk])
    if reason.rule == "no_live_cluster":
        return reverse("admin:jobqueue_clusters")
    return ""


def dashboard_context(window: str) -> dict[str, Any]:
    snapshot = metrics.snapshot(window)
    verdict = health.evaluate(snapshot)
    depth_by_type: dict[str, int] = defaultdict(int)
    for row in snapshot.depth:
        depth_by_type[row.job_type] += row.ready
    durations = [(t.name, [t.duration.p50, t.duration.p95, t.duration.p99]) for t in snapshot.types if t.duration.count]
    return {
        "reasons": [(reason, reason_link(reason, window)) for reason in verdict.reasons],
        "snapshot": snapshot,
        "health": verdict,
        "windows": list(metrics.WINDOWS),
        "window": window,
        "refresh": jobqueue_settings.DASHBOARD_REFRESH,
        "throughput_chart": charts.throughput(snapshot.throughput, snapshot.bucket_seconds),
        "duration_chart": charts.horizontal_bars(durations, ["p50", "p95", "p99"], "ms"),
        "depth_chart": charts.horizontal_bars(
            sorted(((name, [float(n)]) for name, n in depth_by_type.items()), key=lambda r: -(r[1][0] or 0)),
            ["ready"],
            "jobs",
        ),
    }
