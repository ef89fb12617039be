"""Job types in the admin: effective configuration with its sources, guarded edits (environment
pins, settings schema, masked secrets), enable / disable, and run now with a validated payload."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from jobqueue.admin.common import PayloadForm, StrictJSONField, confirm_page, rate_refusal
from jobqueue.admin.overrides import EffectiveEnabledFilter, OverrideFields, option_rows
from jobqueue.admin.typepage import type_urls
from jobqueue.config.effective import resolve_for
from jobqueue.config.options import OPTIONS, Option, Source, is_blank
from jobqueue.exceptions import ConfigurationError, JobQueueError, PayloadValidationError
from jobqueue.models import WAITING, DeadLetter, Job, JobType, Status
from jobqueue.observability import metrics
from jobqueue.registry import registry
from jobqueue.secrets.sealing import SecretState, keep_masked, masked_settings, secret_fields
from jobqueue.services import enqueue, update_job_type
from jobqueue.services.audit import actor_label
from jobqueue.services.jobrate import JobRateExceeded, spend, subject_of
from jobqueue.services.permissions import enqueue_refusal, is_builtin


def _settings_model(record: JobType) -> Any:
    return registry.get(record.name).settings_model if record.name in registry else None


class OptionFormField(forms.Field):
    """One option, validated by the option itself (`Option.parse`), as the API and environment
    pins are; an empty field clears the record's value (back to code)."""

    def __init__(self, option: Option, **kwargs: Any) -> None:
        self.option = option
        kwargs["required"] = False
        if option.json_type == "boolean":
            # Not NullBooleanSelect, which reads any unknown value as "empty".
            kwargs["widget"] = forms.Select(choices=[("", "(code default)"), ("True", "Yes"), ("False", "No")])
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if is_blank(value):
            return None
        try:
            return self.option.to_record(self.option.parse(value))
        except ConfigurationError as exc:
            raise ValidationError(str(exc), code="invalid") from None


class JobTypeForm(forms.ModelForm):
    class Meta:
        model = JobType
        fields = ["enabled", *[n for n in OPTIONS if n != "enabled"], "settings"]
        field_classes = {"settings": StrictJSONField}  # the API's JSON rules, not Django's

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, option in OPTIONS.items():
            field = self.fields.get(name)
            if field is None:
                continue  # read only for this user
            widget = None if option.json_type == "boolean" else field.widget
            self.fields[name] = OptionFormField(option, label=field.label, help_text=option.help, widget=widget)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        record = self.instance
        if record.pk and record.name in registry:
            changes = {name: cleaned.get(name) for name in self.changed_data}
            if "settings" in changes:
                changes["settings"] = keep_masked(_settings_model(record), record.settings, changes["settings"])
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


class JobTypeAdminForm(OverrideFields, JobTypeForm):
    """The job type form as the admin lays it out (jobqueue.admin.overrides): each option names its
    code default and an override is cleared explicitly; validation stays JobTypeForm's."""


@admin.register(JobType)
class JobTypeAdmin(admin.ModelAdmin):
    form = JobTypeAdminForm
    change_form_template = "jobqueue/admin/jobtype_detail.html"
    list_display = [
        "name",
        "registered",
        "effective_enabled",
        "effective_priority",
        "effective_concurrency",
        "effective_schedule",
        "ready_count",
        "running_count",
        "dead_count",
        "last_run",
    ]
    list_filter = ["registered", EffectiveEnabledFilter]
    search_fields = ["name", "description"]
    readonly_fields = [
        "name",
        "description",
        "version",
        "defined_in",
        "registered",
        "effective_configuration",
        "secret_settings",
    ]
    actions = ["enable", "disable"]

    def get_fields(self, request: HttpRequest, obj: JobType | None = None) -> Any:
        return [*self.readonly_fields, *option_rows(obj, JobTypeForm.Meta.fields)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # records mirror the code; they are created by sync, never by hand

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> JobType | None:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "GET":
            obj.settings = masked_settings(_settings_model(obj), obj.settings)  # never shown in clear
        return obj

    def get_queryset(self, request: HttpRequest) -> QuerySet[JobType]:
        # One indexed subquery per count (the claim, running and dead-letter indexes).
        def count(queryset: QuerySet[Any]) -> Coalesce:
            rows = queryset.filter(job_type=OuterRef("pk")).order_by().values("job_type").annotate(n=Count("pk"))
            return Coalesce(Subquery(rows.values("n"), output_field=IntegerField()), 0)

        now = timezone.now()
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_ready=count(Job.objects.filter(status__in=WAITING, run_after__lte=now)),
                n_running=count(Job.objects.filter(status=Status.RUNNING)),
                n_dead=count(DeadLetter.objects.filter(resolution="")),
            )
        )

    @admin.display(description="ready", ordering="n_ready")
    def ready_count(self, obj: Any) -> int:
        return int(getattr(obj, "n_ready", 0))

    @admin.display(description="running", ordering="n_running")
    def running_count(self, obj: Any) -> int:
        return int(getattr(obj, "n_running", 0))

    @admin.display(description="dead", ordering="n_dead")
    def dead_count(self, obj: Any) -> int:
        return int(getattr(obj, "n_dead", 0))

    @admin.display(description="last run")
    def last_run(self, obj: JobType) -> Any:
        return metrics.last_run(obj) or "never"

    @admin.display(description="schedule")
    def effective_schedule(self, obj: JobType) -> str:
        config = self._config(obj)
        return "" if config is None or config.schedule is None else str(config.schedule)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        record = self.get_object(request, object_id)
        context = {
            **(extra_context or {}),
            "can_run": record is not None and self._run_refusal(request, record) is None,
        }
        return super().change_view(request, object_id, form_url, context)

    @staticmethod
    def _run_refusal(request: HttpRequest, record: JobType) -> str | None:
        """Why this user may not run this type now: jobqueue.add_job, then the type's own permission."""
        if not is_builtin(record.name) and not request.user.has_perm("jobqueue.add_job"):
            return "running a job type now needs the permission jobqueue.add_job"
        return enqueue_refusal(request.user, record.name)

    def get_urls(self) -> list[URLPattern]:
        return [
            *type_urls(self.admin_site),
            path("<path:object_id>/run/", self.admin_site.admin_view(self.run_view), name="jobqueue_jobtype_run"),
            *super().get_urls(),
        ]

    def run_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Enqueue one job of this type now, with a payload validated against the type's schema."""
        record = self.get_object(request, object_id)
        if record is None:
            raise Http404("no such job type")
        refusal = self._run_refusal(request, record)
        if refusal is not None and is_builtin(record.name) and self.has_view_permission(request, record):
            self.message_user(request, refusal, messages.ERROR)  # nobody may: say why, on its page
            return redirect(reverse("admin:jobqueue_jobtype_change", args=[record.pk]))
        if refusal is not None:
            raise PermissionDenied(refusal)
        form = PayloadForm(request.POST if request.method == "POST" else None, initial={"payload": {}})
        if form.is_bound and form.is_valid():
            try:
                spend(subject_of(request.user), 1)  # the user's job rate, as the API's run now
                job = enqueue(record.name, form.cleaned_data["payload"], created_by=actor_label(request.user))
            except PayloadValidationError as exc:
                form.add_payload_errors(exc)
            except JobRateExceeded as exc:
                form.add_error(None, rate_refusal(exc, "enqueued"))
            except JobQueueError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Enqueued job {job.pk}.", messages.SUCCESS)
                return redirect(reverse("admin:jobqueue_job_change", args=[job.pk]))
        schema = registry.get(record.name).payload_schema() if record.name in registry else None
        return confirm_page(
            self,
            request,
            title=f"Run {record.name} now",
            objects=[record],
            count=1,
            form=form,
            submit="Enqueue",
            extra={"schema": json.dumps(schema, indent=2) if schema else ""},
        )

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

    @admin.display(description="secret settings")
    def secret_settings(self, obj: JobType) -> str:
        """Each secret setting as "set" / "not set" and when it was last changed: all anyone sees."""
        secrets = sorted(secret_fields(_settings_model(obj)))
        if not secrets:
            return "—"
        stored = JobType.objects.get(pk=obj.pk)  # `obj` holds masks in place of the sealed values
        config = self._config(stored)
        if config is None or config.settings is None:
            return "—"
        states = (
            (
                name,
                SecretState.of(
                    getattr(config.settings, name, None),
                    (stored.settings or {}).get(name) if config.settings_sources.get(name) == Source.DATABASE else None,
                ),
                config.settings_sources.get(name, Source.CODE).value,
            )
            for name in secrets
        )
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", states)
        return format_html("<table><tr><th>setting</th><th>stored</th><th>source</th></tr>{}</table>", rows)

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
