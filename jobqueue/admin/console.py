"""The operator's console pages beside the job list: the dashboard, failures grouped by cause
(with re-queue / discard of a group's dead letters), and what each cluster runs now.

Each page also renders as a fragment (`?fragment=1`: its body only), which the console's script
fetches to refresh the page in place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode

from jobqueue.admin import charts
from jobqueue.admin.common import within_job_rate
from jobqueue.admin.dashboard import dashboard_context
from jobqueue.admin.workflows import workflow_view
from jobqueue.config.settings import jobqueue_settings
from jobqueue.exceptions import ActionRefused
from jobqueue.models import JobType
from jobqueue.observability import activity, failures, metrics
from jobqueue.services import discard_group, requeue_group
from jobqueue.services.permissions import may_run_again, require_again

FAILURE_WINDOW = "24h"


def console_urls(site: admin.AdminSite) -> list[URLPattern]:
    def view(function: Any) -> Any:
        return site.admin_view(lambda request, **kwargs: function(site, request, **kwargs))

    return [
        path("dashboard/", view(dashboard_view), name="jobqueue_dashboard"),
        path("failures/", view(failures_view), name="jobqueue_failures"),
        path("failures/<str:key>/", view(group_view), name="jobqueue_failure_group"),
        path("failures/<str:key>/<str:action>/", view(group_action_view), name="jobqueue_failure_action"),
        path("clusters/", view(clusters_view), name="jobqueue_clusters"),
        path("workflows/<str:workflow_id>/", view(workflow_view), name="jobqueue_workflow"),
    ]


def page(
    site: admin.AdminSite, request: HttpRequest, template: str, title: str, context: dict[str, Any]
) -> TemplateResponse:
    """The page, or only its body when the console's script asks for a fragment."""
    if request.GET.get("fragment"):
        return TemplateResponse(request, f"jobqueue/admin/{template}_body.html", context)
    full = {**site.each_context(request), "title": title, "body": f"jobqueue/admin/{template}_body.html", **context}
    return TemplateResponse(request, "jobqueue/admin/console_page.html", full)


def _require(request: HttpRequest, *perms: str) -> None:
    if not all(request.user.has_perm(p) for p in perms):
        raise PermissionDenied


def _window(request: HttpRequest, default: str) -> str:
    window = request.GET.get("window") or request.POST.get("window") or default
    return window if window in metrics.WINDOWS else default


def dashboard_view(site: admin.AdminSite, request: HttpRequest) -> TemplateResponse:
    _require(request, "jobqueue.view_job")
    window = _window(request, jobqueue_settings.HEALTH_WINDOW)
    return page(site, request, "dashboard", "Job queue dashboard", dashboard_context(window))


def failures_view(site: admin.AdminSite, request: HttpRequest) -> TemplateResponse:
    _require(request, "jobqueue.view_job")
    window = _window(request, FAILURE_WINDOW)
    job_type = request.GET.get("type") or None
    found = failures.report(window, job_type=job_type)
    rows = [
        (group, charts.sparkline(group.series, f"{group.count} failures over the last {window}"))
        for group in found.groups
    ]
    context = {
        "report": found,
        "rows": rows,
        "window": window,
        "windows": list(metrics.WINDOWS),
        "job_type": job_type or "",
        "type_names": list(JobType.objects.values_list("name", flat=True)),
        "refresh": jobqueue_settings.DASHBOARD_REFRESH,
    }
    return page(site, request, "failures", "Failures by cause", context)


class GroupActionForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, widget=forms.TextInput(attrs={"size": 50}))
    window = forms.ChoiceField(choices=[(w, w) for w in metrics.WINDOWS], widget=forms.HiddenInput)
    until = forms.CharField(widget=forms.HiddenInput)

    def clean_until(self) -> datetime:
        value = parse_datetime(self.cleaned_data["until"])
        if value is None:
            raise forms.ValidationError("not a date and time")
        return value


def _group(key: str, window: str, now: datetime | None = None) -> tuple[failures.FailureReport, failures.FailureGroup]:
    found = failures.report(window, now=now)
    group = found.group(key)
    if group is None:
        raise Http404(f"no failure group {key} in the last {window}")
    return found, group


def group_view(site: admin.AdminSite, request: HttpRequest, key: str) -> TemplateResponse:
    _require(request, "jobqueue.view_job")
    window = _window(request, FAILURE_WINDOW)
    found, group = _group(key, window)
    initial = {"window": window, "until": found.now.isoformat()}
    context = {
        "report": found,
        "group": group,
        "window": window,
        "spark": charts.sparkline(group.series, f"{group.count} failures over the last {window}", width=360, height=48),
        "sample": group.sample(),
        "requeue_form": GroupActionForm(initial=initial, prefix="requeue"),
        "discard_form": GroupActionForm(initial=initial, prefix="discard"),
        "can_requeue": request.user.has_perm("jobqueue.requeue_deadletter")
        and may_run_again(request.user, group.job_type),
        "can_discard": request.user.has_perm("jobqueue.discard_deadletter"),
        "dead_letters_url": reverse("admin:jobqueue_deadletter_changelist")
        + "?"
        + urlencode({"job_type__id__exact": str(group.job_type_id), "resolution__exact": ""}),
    }
    return page(site, request, "failure_group", f"{group.job_type}: {group.error_type or 'error'}", context)


def group_action_view(site: admin.AdminSite, request: HttpRequest, key: str, action: str) -> HttpResponse:
    """Re-queue (reason optional) or discard (reason required) every unresolved dead letter of a
    group created in its window up to the moment the page showed (`until`)."""
    perms = {"requeue": "jobqueue.requeue_deadletter", "discard": "jobqueue.discard_deadletter"}
    if action not in perms:
        raise Http404("no such action")
    _require(request, "jobqueue.view_job", perms[action])
    if request.method != "POST":
        return redirect(reverse("admin:jobqueue_failure_group", args=[key]))
    form = GroupActionForm(request.POST, prefix=action)
    back = (
        reverse("admin:jobqueue_failure_group", args=[key])
        + "?"
        + urlencode({"window": form.data.get(f"{action}-window", FAILURE_WINDOW)})
    )
    if not form.is_valid():
        messages.error(request, f"The {action} form is not valid: {form.errors.as_text()}")
        return redirect(back)
    window, until, reason = form.cleaned_data["window"], form.cleaned_data["until"], form.cleaned_data["reason"]
    if action == "discard" and not reason.strip():
        messages.error(request, "Write a reason to discard a group's dead letters; nothing was discarded.")
        return redirect(back)
    found, group = _group(key, window, now=until)
    if action == "requeue":
        try:  # one refusal for the group, not one per dead letter
            require_again(request.user, group.job_type, payload_edited=False)
        except ActionRefused as exc:
            messages.error(request, f"{exc}; nothing was re-queued.")
            return redirect(back)
    targets = failures.dead_letters(group, found.since, until)
    if action == "requeue" and not within_job_rate(request, len(targets), "re-queued"):
        return redirect(back)
    record = JobType.objects.get(pk=group.job_type_id)
    label = f"{group.error_type}: {group.message}"
    perform = requeue_group if action == "requeue" else discard_group
    outcome = perform(targets, by=request.user, reason=reason, job_type=record, label=label)
    verb = "Re-queued" if action == "requeue" else "Discarded"
    messages.success(request, f"{verb} {outcome.done} dead letter(s) of {group.job_type}: {label}.")
    for refusal in outcome.refused[:20]:
        messages.warning(request, refusal)
    return redirect(back)


def clusters_view(site: admin.AdminSite, request: HttpRequest) -> TemplateResponse:
    _require(request, "jobqueue.view_job")
    context = {
        "activity": activity.activity(timezone.now()),
        "refresh": jobqueue_settings.DASHBOARD_REFRESH,
    }
    return page(site, request, "clusters", "Clusters and what they run", context)
