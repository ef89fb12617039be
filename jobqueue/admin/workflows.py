"""A workflow in the admin: its jobs as a graph, drawn on the server as inline SVG (like the
dashboard's charts), each job a box in its status's colour linking to the job, in columns by
depth (a job sits one column right of the deepest job it waits for)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from jobqueue.observability.workflows import WorkflowDetail, parse_id, workflow

COLOURS = {
    "succeeded": "#2e7d32",
    "dead": "#c62828",
    "cancelled": "#757575",
    "skipped": "#9e9e9e",
    "running": "#1565c0",
    "blocked": "#ef6c00",
}
WAITING_COLOUR = "#6a1b9a"  # queued, scheduled, retrying
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 170, 26, 60, 10, 10


def depths(detail: WorkflowDetail) -> dict[str, int]:
    """Each job's column: 0 for a job that waits for none, else one more than its deepest."""
    waits: dict[str, list[str]] = {}
    for job_id, on_id, _ in detail.edges:
        waits.setdefault(job_id, []).append(on_id)
    found: dict[str, int] = {}

    def depth(job_id: str) -> int:
        if job_id not in found:
            found[job_id] = 0  # a guard only: the builder refuses cycles
            found[job_id] = 1 + max((depth(on) for on in waits.get(job_id, [])), default=-1)
        return found[job_id]

    for job in detail.jobs:
        depth(job.id)
    return found


def graph(detail: WorkflowDetail) -> SafeString:
    """The workflow's jobs and edges as one SVG."""
    column = depths(detail)
    rows: dict[int, int] = {}
    place: dict[str, tuple[int, int]] = {}
    for job in detail.jobs:
        col = column[job.id]
        row = rows.get(col, 0)
        rows[col] = row + 1
        place[job.id] = (MARGIN + col * (BOX_W + GAP_X), MARGIN + row * (BOX_H + GAP_Y))
    width = MARGIN * 2 + (max(column.values()) + 1) * (BOX_W + GAP_X) - GAP_X
    height = MARGIN * 2 + max(rows.values()) * (BOX_H + GAP_Y) - GAP_Y
    lines = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#90a4ae"{}/>',
        (
            (
                place[on][0] + BOX_W,
                place[on][1] + BOX_H // 2,
                place[job][0],
                place[job][1] + BOX_H // 2,
                SafeString(' stroke-dasharray="4 3"') if ignore else "",
            )
            for job, on, ignore in detail.edges
            if job in place and on in place
        ),
    )
    boxes = format_html_join(
        "",
        '<a href="{}"><title>{} {}: {}{}</title><rect x="{}" y="{}" width="{}" height="{}" rx="4" fill="{}"/>'
        '<text x="{}" y="{}" fill="#fff" font-size="12">{} · {}</text></a>',
        (
            (
                reverse("admin:jobqueue_job_change", args=[job.id]),
                job.type,
                job.id,
                job.status,
                f" ({job.last_error})" if job.last_error else "",
                place[job.id][0],
                place[job.id][1],
                BOX_W,
                BOX_H,
                COLOURS.get(job.status, WAITING_COLOUR),
                place[job.id][0] + 6,
                place[job.id][1] + 17,
                job.type[:16],
                job.status,
            )
            for job in detail.jobs
        ),
    )
    return format_html(
        '<svg class="jq-workflow" role="img" aria-label="workflow graph" width="{}" height="{}" '
        'viewBox="0 0 {} {}" xmlns="http://www.w3.org/2000/svg">{}{}</svg>',
        width,
        height,
        width,
        height,
        lines,
        boxes,
    )


def workflow_view(site: admin.AdminSite, request: HttpRequest, workflow_id: str) -> TemplateResponse:
    if not request.user.has_perm("jobqueue.view_job"):
        raise PermissionDenied
    key = parse_id(workflow_id)
    detail = workflow(key) if key else None
    if detail is None:
        raise Http404(f"no workflow {workflow_id}")
    context: dict[str, Any] = {
        **site.each_context(request),
        "title": f"Workflow {detail.summary.id}",
        "detail": detail,
        "graph": graph(detail),
    }
    return TemplateResponse(request, "jobqueue/admin/workflow.html", context)
