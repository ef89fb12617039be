"""The Django admin of the job queue: job types (with effective configuration), jobs, dead letters."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from jobqueue.exceptions import InvalidStateError
from jobqueue.models import Attempt, DeadLetter, Job, JobType
from jobqueue.options import OPTIONS
from jobqueue.registry import registry
from jobqueue.services import cancel, discard_dead_letter, requeue_dead_letter, rerun, update_job_type
from jobqueue.typeconfig import resolve_for


def _pretty(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


MASK = "**********"


def _masked_settings(record: JobType) -> dict[str, Any]:
    """The record's own settings, with every secret field shown as a mask."""
    stored = record.settings if isinstance(record.settings, dict) else {}
    model = registry.get(record.name).settings_model if record.name in registry else None
    secret = (
        set()
        if model is None
        else {name for name, field in model.model_fields.items() if "Secret" in str(field.annotation)}
    )
    return {key: (MASK if key in secret and value else value) for key, value in stored.items()}


class JobTypeForm(forms.ModelForm):
    class Meta:
        model = JobType
        fields = ["enabled", *[n for n in OPTIONS if n != "enabled"], "settings"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        record = self.instance
        if record.pk and record.name in registry:
            changes = {name: cleaned.get(name) for name in self.changed_data}
            if "settings" in changes:
                changes["settings"] = _keep_masked_secrets(record, changes["settings"])
                cleaned["settings"] = changes["settings"]
            # Validate only (save_model writes): refuse pinned fields and settings off their schema.
            from jobqueue.services.types import settings_errors

            definition = registry.get(record.name)
            pins = resolve_for(definition, record).pins
            for name in changes:
                if name in pins and name != "settings":
                    self.add_error(name, f"pinned by the environment variable {pins[name]}; unset it to edit here")
            if "settings" in changes:
                for path, errors in settings_errors(definition, record, changes["settings"], pins).items():
                    self.add_error("settings", f"{path}: {'; '.join(errors)}")
        return cleaned


def _keep_masked_secrets(record: JobType, new: Any) -> Any:
    """A secret shown masked and submitted unchanged keeps its stored value."""
    if not isinstance(new, dict):
        return new
    old = record.settings if isinstance(record.settings, dict) else {}
    return {k: (old.get(k, "") if v == MASK else v) for k, v in new.items()}


@admin.register(JobType)
class JobTypeAdmin(admin.ModelAdmin):
    form = JobTypeForm
    list_display = [
        "name",
        "registered",
        "effective_enabled",
        "effective_priority",
        "effective_concurrency",
        "description",
    ]
    list_filter = ["registered", "enabled"]
    search_fields = ["name", "description"]
    readonly_fields = ["name", "description", "version", "defined_in", "registered", "effective_configuration"]
    actions = ["enable", "disable"]

    def get_fields(self, request: HttpRequest, obj: JobType | None = None) -> Any:
        return [*self.readonly_fields, *JobTypeForm.Meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # records mirror the code; they are created by sync, never by hand

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> JobType | None:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "GET":
            obj.settings = _masked_settings(obj)  # secrets never reach the page in clear
        return obj

    def _config(self, obj: JobType) -> Any:
        return resolve_for(registry.get(obj.name), obj) if obj.name in registry else None

    @admin.display(description="enabled")
    def effective_enabled(self, obj: JobType) -> Any:
        config = self._config(obj)
        return "unregistered" if config is None else config.enabled

    @admin.display(description="priority")
    def effective_priority(self, obj: JobType) -> Any:
        config = self._config(obj)
        return "" if config is None else config.priority

    @admin.display(description="concurrency")
    def effective_concurrency(self, obj: JobType) -> Any:
        config = self._config(obj)
        return "" if config is None else (config.concurrency or "unlimited")

    @admin.display(description="effective configuration")
    def effective_configuration(self, obj: JobType) -> str:
        config = self._config(obj)
        if config is None:
            return "This job type is no longer defined in code; its jobs do not run."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    name,
                    OPTIONS[name].to_text(config.values[name]) if config.values[name] is not None else "—",
                    config.sources[name].value + (f" ({config.pins[name]})" if name in config.pins else ""),
                )
                for name in OPTIONS
            ),
        )
        return format_html("<table><tr><th>option</th><th>value</th><th>source</th></tr>{}</table>", rows)

    def save_model(self, request: HttpRequest, obj: JobType, form: Any, change: bool) -> None:
        changes = {name: form.cleaned_data.get(name) for name in form.changed_data}
        update_job_type(JobType.objects.get(pk=obj.pk), changes)

    @admin.action(description="Enable the selected job types", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[JobType]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable (pause) the selected job types", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[JobType]) -> None:
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[JobType], value: bool) -> None:
        for record in queryset:
            try:
                update_job_type(record, {"enabled": value})
            except (ValidationError, LookupError) as exc:
                self.message_user(request, f"{record.name}: {exc}", messages.ERROR)


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = ["number", "outcome", "started_at", "duration_ms", "host", "pid", "error_type", "error_message"]
    readonly_fields = ["number", "outcome", "started_at", "duration_ms", "host", "pid", "error_type", "error_message"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "job_type", "status", "priority", "attempts", "created_at", "finished_at"]
    list_filter = ["status", "job_type", "priority", "created_at"]
    search_fields = ["=id", "=unique_key"]
    list_select_related = ["job_type"]
    show_full_result_count = False
    inlines = [AttemptInline]
    actions = ["rerun_jobs", "cancel_jobs"]
    readonly_fields = [
        "id",
        "job_type",
        "status",
        "priority",
        "attempts",
        "max_attempts",
        "run_after",
        "created_at",
        "started_at",
        "finished_at",
        "claimed_by",
        "worker",
        "progress",
        "progress_message",
        "last_error",
        "unique_key",
        "rerun_of",
        "created_by",
        "pretty_payload",
        "pretty_result",
    ]
    exclude = ["payload", "result", "lease_expires_at", "timeout", "cancel_requested_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="payload")
    def pretty_payload(self, obj: Job) -> str:
        return _pretty(obj.payload)

    @admin.display(description="result")
    def pretty_result(self, obj: Job) -> str:
        return _pretty(obj.result)

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobqueue.rerun_job")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobqueue.cancel_job")

    @admin.action(description="Re-run the selected jobs", permissions=["rerun"])
    def rerun_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._each(request, queryset, lambda job: rerun(job, by=request.user, reason="admin action"))

    @admin.action(description="Cancel the selected jobs", permissions=["cancel"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._each(request, queryset, lambda job: cancel(job, by=request.user, reason="admin action"))

    def _each(self, request: HttpRequest, queryset: QuerySet[Any], action: Any) -> None:
        _apply(self, request, queryset, action)


def _apply(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any], action: Any) -> None:
    """Run a service on each selected object; report refusals one by one, never a 500."""
    done = 0
    for obj in queryset:
        try:
            action(obj)
            done += 1
        except (InvalidStateError, LookupError, ValueError) as exc:
            modeladmin.message_user(request, str(exc), messages.WARNING)
    modeladmin.message_user(request, f"{done} done.")


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ["id", "job_type", "reason", "error_type", "created_at", "resolution"]
    list_filter = ["resolution", "reason", "job_type", "created_at"]
    search_fields = ["=id", "=job__id"]
    list_select_related = ["job_type"]
    actions = ["requeue", "discard"]
    readonly_fields = [
        "id",
        "job",
        "job_type",
        "reason",
        "error_type",
        "error_message",
        "traceback",
        "attempts",
        "created_at",
        "resolution",
        "resolved_at",
        "resolved_by",
        "resolution_reason",
        "requeued_job",
        "pretty_payload",
    ]
    exclude = ["payload"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="payload")
    def pretty_payload(self, obj: DeadLetter) -> str:
        return _pretty(obj.payload)

    def has_requeue_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobqueue.requeue_deadletter")

    def has_discard_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobqueue.discard_deadletter")

    @admin.action(description="Re-queue the selected dead letters", permissions=["requeue"])
    def requeue(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        _apply(self, request, queryset, lambda dl: requeue_dead_letter(dl, by=request.user, reason="admin action"))

    @admin.action(description="Discard the selected dead letters", permissions=["discard"])
    def discard(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        _apply(
            self,
            request,
            queryset,
            lambda dl: discard_dead_letter(dl, by=request.user, reason="discarded in the admin"),
        )


def _harden_django_q_admin() -> None:
    """django-q2's admin lets a staff user name any function to run (schedules, resubmit):
    remove those pages; the job queue never uses them. django_q.admin is imported first so
    that its registrations exist to be removed, whatever the app order."""
    import django_q.admin  # noqa: F401
    from django_q import models as q_models

    for model in (q_models.Schedule, q_models.Success, q_models.Failure, q_models.OrmQ):
        if admin.site.is_registered(model):
            admin.site.unregister(model)


_harden_django_q_admin()
