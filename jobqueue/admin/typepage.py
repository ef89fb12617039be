"""A job type's own page: its history over 24 h and 7 d (from the rollup), its recent failure
groups, every option's effective value with its source and override, and pause / resume with a
reason."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from jobqueue.admin import charts, display
from jobqueue.config.effective import resolve_for
from jobqueue.config.options import OPTIONS
from jobqueue.exceptions import InvalidStateError
from jobqueue.models import JobType
from jobqueue.observability import failures, history
from jobqueue.observability.metrics import ThroughputPoint
from jobqueue.registry import registry
from jobqueue.services import pause, resume

WINDOWS = ("24h", "7d")


class PauseForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.TextInput(attrs={"size": 50}))


def type_urls(site: admin.AdminSite) -> list[URLPattern]:
    return [
        path("<path:object_id>/overview/", site.admin_view(overview_view), name="jobqueue_jobtype_overview"),
        path("<path:object_id>/pause/", site.admin_view(pause_view), name="jobqueue_jobtype_pause"),
    ]


def _record(object_id: str) -> JobType:
    record = JobType.objects.filter(pk=object_id).first() if object_id.isdigit() else None
    if record is None:
        raise Http404("no such job type")
    return record


def configuration(record: JobType) -> tuple[bool | None, list[dict[str, Any]]]:
    """The effective enabled flag, and each option's code default, override, effective value and source."""
    if record.name not in registry:
        return None, []
    definition = registry.get(record.name)
    config = resolve_for(definition, record)
    rows = []
    for name, option in OPTIONS.items():
        override = getattr(record, name)
        rows.append(
            {
                "name": name,
                "help": option.help,
                "default": _text(name, definition.defaults.get(name)),
                "override": "—" if override is None else _text(name, override),
                "value": _text(name, config.values[name]),
                "source": config.sources[name].value,
                "pin": config.pins.get(name, ""),
            }
        )
    return config.enabled, rows


def _text(name: str, value: Any) -> str:
    return OPTIONS[name].show(value)


def _windows(record: JobType) -> list[dict[str, Any]]:
    shown = []
    for window in WINDOWS:
        found = history.history(record, window)
        labels = [f"{p.start:%m-%d %H:00}" for p in found.points]
        shown.append(
            {
                "window": window,
                "history": found,
                "summary": found.summary,
                "throughput": charts.throughput(
                    [ThroughputPoint(p.start, p.succeeded, p.failed) for p in found.points], 3600
                ),
                "durations": charts.lines(
                    labels, [("p50", [p.p50 for p in found.points]), ("p95", [p.p95 for p in found.points])], "ms"
                ),
                "depth": charts.lines(labels, [("waiting (estimated)", [p.waiting for p in found.points])], "jobs"),
            }
        )
    return shown


def overview_view(request: HttpRequest, object_id: str) -> TemplateResponse:
    if not request.user.has_perm("jobqueue.view_jobtype"):
        raise PermissionDenied
    record = _record(object_id)
    enabled, options = configuration(record)
    recent = failures.report("24h", job_type=record.name)
    context = {
        **admin.site.each_context(request),
        "title": f"Job type {record.name}",
        "record": record,
        "enabled": enabled,
        "options": options,
        "windows": _windows(record),
        "failure_groups": recent.groups[:10],
        "failures_url": f"{reverse('admin:jobqueue_failures')}?type={record.name}",
        "pause_form": PauseForm(),
        "can_pause": request.user.has_perm("jobqueue.change_jobtype"),
        "ms": display.milliseconds,
    }
    return TemplateResponse(request, "jobqueue/admin/jobtype_overview.html", context)


def pause_view(request: HttpRequest, object_id: str) -> HttpResponse:
    """POST only: pause (action=pause) or resume (action=resume) the type, with a required reason."""
    if not request.user.has_perm("jobqueue.change_jobtype"):
        raise PermissionDenied
    record = _record(object_id)
    back = reverse("admin:jobqueue_jobtype_overview", args=[record.pk])
    if request.method != "POST":
        return redirect(back)
    form = PauseForm(request.POST)
    action = request.POST.get("action")
    if action not in ("pause", "resume"):
        messages.error(request, "Choose pause or resume.")
    elif not form.is_valid():
        messages.error(request, f"Write a reason to {action} {record.name}; nothing was changed.")
    else:
        perform = pause if action == "pause" else resume
        try:
            perform(record, by=request.user, reason=form.cleaned_data["reason"])
        except (ValidationError, InvalidStateError) as exc:
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            messages.error(request, f"{record.name} was not changed: {text}")
        else:
            messages.success(
                request, f"Job type {record.name} is {'paused' if action == 'pause' else 'running again'}."
            )
    return redirect(back)
