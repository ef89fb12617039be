"""What the job queue's admin pages share: JSON display, the reason form, a paginator that never
counts the whole table, running a service over a selection, and the user's job rate."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from jobqueue.config.settings import jobqueue_settings
from jobqueue.exceptions import InvalidStateError, JobQueueError, PayloadValidationError
from jobqueue.services.jobrate import JobRateExceeded, spend, subject_of
from jobqueue.strictjson import loads_strict

# How many of the selected objects an action's confirmation page lists.
PREVIEW = 100


def pretty_json(value: Any) -> str:
    """JSON indented for reading, escaped into a <pre> (payloads are user input)."""
    return format_html('<pre class="jq-json">{}</pre>', json.dumps(value, indent=2, sort_keys=True, default=str))


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))


class StrictJSONField(forms.JSONField):
    """A JSON form field read by the API's rules (jobqueue.strictjson): NaN, Infinity, NUL,
    lone surrogates and nesting deeper than API_MAX_JSON_DEPTH are form errors, not a 500
    (Django's own JSONField takes them, and PostgreSQL or Python's recursion limit then fail)."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        try:
            return loads_strict(value, jobqueue_settings.API_MAX_JSON_DEPTH)
        except ValueError as exc:
            raise ValidationError(f"Enter a valid JSON: {exc}.", code="invalid") from None

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return loads_strict(data, jobqueue_settings.API_MAX_JSON_DEPTH)
        except ValueError:
            return forms.fields.InvalidJSONInput(data)


class PayloadForm(forms.Form):
    """A JSON payload typed by an operator; the job type's schema is checked by the service."""

    payload = StrictJSONField(widget=forms.Textarea(attrs={"rows": 10, "cols": 80, "class": "vLargeTextField"}))
    reason = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))

    def add_payload_errors(self, exc: PayloadValidationError) -> None:
        for path, errors in exc.errors.items():
            label = path.removeprefix("payload").lstrip(".") or "payload"
            self.add_error("payload", f"{label}: {'; '.join(errors)}")


class CappedPaginator(Paginator):
    """Counts at most CAP rows (`SELECT COUNT(*) FROM (... LIMIT CAP + 1)`), so a page view of a
    table with millions of jobs costs the same as one of a few thousand."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        object_list: Any = self.object_list
        return int(object_list[: self.CAP + 1].count())


def apply_each(
    modeladmin: admin.ModelAdmin, request: HttpRequest, objects: Iterable[Any], action: Callable[[Any], Any]
) -> int:
    """Run a service on each object; report refusals one by one (never a 500); return the count done."""
    done = 0
    for obj in objects:
        try:
            action(obj)
            done += 1
        except (InvalidStateError, PayloadValidationError, LookupError, ValidationError, JobQueueError) as exc:
            modeladmin.message_user(request, f"{obj}: {exc}", messages.WARNING)
    modeladmin.message_user(request, f"{done} done.", messages.SUCCESS if done else messages.INFO)
    return done


def within_job_rate(request: HttpRequest, jobs: int, undone: str) -> bool:
    """Spend `jobs` of the user's job rate (the budget the API's job-creating calls spend too)
    before an action creates them; when the rate refuses, say so and return False: the action
    must then create nothing. `undone` completes "nothing was ..." ("re-run", "re-queued")."""
    try:
        spend(subject_of(request.user), jobs)
    except JobRateExceeded as exc:
        messages.error(request, rate_refusal(exc, undone))
        return False
    return True


def rate_refusal(exc: JobRateExceeded, undone: str) -> str:
    return f"Refused by your job rate (API_ENQUEUE_RATE): {exc}; nothing was {undone}."


def confirm_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    title: str,
    objects: list[Any],
    count: int,
    form: forms.Form,
    submit: str,
    action: str = "",
    extra: dict[str, Any] | None = None,
) -> TemplateResponse:
    """The intermediate page of an action: what it applies to, how many, and its form."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "objects": objects,
        "count": count,
        "form": form,
        "submit": submit,
        "action": action,
        "select_across": request.POST.get("select_across", "0"),
        "opts": modeladmin.model._meta,
        **(extra or {}),
    }
    return TemplateResponse(request, "jobqueue/admin/confirm.html", context)


def reasoned_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    title: str,
    perform: Callable[[Any, str], Any],
    creates: str = "",
) -> TemplateResponse | None:
    """A bulk admin action that first asks for a reason, then runs `perform(obj, reason)` on each.
    An action that creates a job per object (`creates`: "re-run", "re-queued") spends the user's
    job rate for all of them first, and is refused whole when they do not fit."""
    form = ReasonForm(request.POST if request.POST.get("confirmed") else None)
    if form.is_bound and form.is_valid():
        reason = form.cleaned_data["reason"]
        if creates and not within_job_rate(request, queryset.count(), creates):
            return None
        apply_each(modeladmin, request, queryset, lambda obj: perform(obj, reason))
        return None
    return confirm_page(
        modeladmin,
        request,
        title=title,
        objects=list(queryset[:PREVIEW]),
        count=queryset.count(),
        form=form,
        submit=title,
        action=action,
    )


def single_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    object_id: str,
    *,
    permission: str,
    title: str,
    perform: Callable[[Any, str], Any],
    creates: str = "",
) -> HttpResponse:
    """The page of one action on one object (from its detail page), asking for a reason; one
    that creates a job (`creates`, as for reasoned_action) spends one of the user's job rate."""
    obj = modeladmin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404("no such object")
    if not request.user.has_perm(permission):
        raise PermissionDenied
    form = ReasonForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        if not creates or within_job_rate(request, 1, creates):
            apply_each(modeladmin, request, [obj], lambda o: perform(o, form.cleaned_data["reason"]))
        return redirect(change_url(obj))
    return confirm_page(modeladmin, request, title=title, objects=[obj], count=1, form=form, submit=title)


def change_url(obj: Any) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[quote(obj.pk)])
