"""The dashboard page: health and its reasons, throughput, durations, queue depth, dead letters
and clusters, for a chosen window; it reloads itself while open."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse

from jobqueue import health, metrics
from jobqueue.admin import charts
from jobqueue.conf import jobqueue_settings


def dashboard_view(site: admin.AdminSite, request: HttpRequest) -> TemplateResponse:
    if not request.user.has_perm("jobqueue.view_job"):
        raise PermissionDenied
    window = request.GET.get("window", str(jobqueue_settings.HEALTH_WINDOW))
    if window not in metrics.WINDOWS:
        window = "1h"  # an unknown window in the URL falls back instead of failing
    snapshot = metrics.snapshot(window)
    verdict = health.evaluate(snapshot)
    depth_by_type: dict[str, int] = defaultdict(int)
    for row in snapshot.depth:
        depth_by_type[row.job_type] += row.ready
    durations = [(t.name, [t.duration.p50, t.duration.p95, t.duration.p99]) for t in snapshot.types if t.duration.count]
    context = {
        **site.each_context(request),
        "title": "Job queue dashboard",
        "snapshot": snapshot,
        "health": verdict,
        "windows": list(metrics.WINDOWS),
        "window": window,
        "refresh": int(jobqueue_settings.DASHBOARD_REFRESH),
        "throughput_chart": charts.throughput(snapshot.throughput, snapshot.bucket_seconds),
        "duration_chart": charts.horizontal_bars(durations, ["p50", "p95", "p99"], "ms"),
        "depth_chart": charts.horizontal_bars(
            sorted(((name, [float(n)]) for name, n in depth_by_type.items()), key=lambda r: -(r[1][0] or 0)),
            ["ready"],
            "jobs",
        ),
    }
    return TemplateResponse(request, "jobqueue/admin/dashboard.html", context)
