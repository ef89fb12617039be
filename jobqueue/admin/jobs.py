"""Jobs in the admin: a list that never counts the whole table, a detail page with every attempt,
and re-run / cancel with a reason, on one job or on a selection."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from jobqueue.admin import display
from jobqueue.admin.common import CappedPaginator, change_url, pretty_json, reasoned_action, single_action
from jobqueue.admin.console import console_urls
from jobqueue.admin.filters import PriorityFilter
from jobqueue.admin.live import LiveListMixin
from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import Attempt, Job, Status
from jobqueue.observability.search import SearchError, SearchTimeout, search, time_limited
from jobqueue.services import cancel, rerun
from jobqueue.services.permissions import may_run_again


@admin.register(Job)
class JobAdmin(LiveListMixin, admin.ModelAdmin):
    list_display = ["short_id", "job_type", "status_badge", "tries", "created", "duration", "error"]
    list_display_links = None  # the short id is the link (a whole UUID wraps over four lines)
    list_filter = ["status", "job_type", PriorityFilter, "created_at"]
    search_fields = ["=id"]  # shows the search box; get_search_results reads the search syntax
    search_help_text = 'e.g. type=send_tweet status=dead dao_id=42 text~"launch" error~timeout (see docs/admin.md)'
    change_list_template = "jobqueue/admin/job_list.html"
    list_select_related = ["job_type"]
    show_full_result_count = False
    paginator = CappedPaginator
    list_per_page = 50
    actions = ["rerun_jobs", "cancel_jobs"]
    change_form_template = "jobqueue/admin/job_detail.html"
    readonly_fields = [
        "id",
        "job_type",
        "status",
        "progress_bar",
        "priority",
        "attempts",
        "max_attempts",
        "run_after",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "claimed_by",
        "worker",
        "last_error",
        "unique_key",
        "partition_key",
        "created_by",
        "rerun_link",
        "reruns_links",
        "pretty_payload",
        "pretty_result",
    ]
    fields = tuple(readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if not request.GET.get("q"):
            return super().changelist_view(request, extra_context)
        # The page's queries run while it renders: render inside the time limit.
        try:
            with time_limited(jobqueue_settings.SEARCH_TIMEOUT):
                response = super().changelist_view(request, extra_context)
                if hasattr(response, "render"):
                    response.render()
        except SearchTimeout as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return redirect(request.path)
        return response

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Job], search_term: str) -> Any:
        """The console's search syntax (jobqueue.observability.search); bad syntax is a message."""
        try:
            return search(queryset, search_term), False
        except SearchError as exc:
            self.message_user(request, f"Search not understood: {exc}", messages.ERROR)
            return queryset.none(), False

    @admin.display(description="id", ordering="id")
    def short_id(self, obj: Job) -> str:
        return display.short_id(obj.pk, change_url_of(obj.pk))

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Job) -> str:
        return display.badge(obj.status)

    @admin.display(description="tries", ordering="attempts")
    def tries(self, obj: Job) -> str:
        return f"{obj.attempts}/{obj.max_attempts}"

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Job) -> str:
        return display.relative_time(obj.created_at)

    @admin.display(description="last error")
    def error(self, obj: Job) -> str:
        return display.snippet(obj.last_error)

    @admin.display(description="duration")
    def duration(self, obj: Job) -> str:
        return display.duration(obj.started_at, obj.finished_at)

    @admin.display(description="progress")
    def progress_bar(self, obj: Job) -> str:
        if obj.status != Status.RUNNING:
            return "—" if obj.progress is None else f"{obj.progress:.0%}"
        value = max(0.0, min(1.0, obj.progress or 0.0))
        return format_html(
            '<progress class="jq-progress" max="1" value="{}">{}</progress> {} {}',
            f"{value:.3f}",
            f"{value:.0%}",
            f"{value:.0%}",
            obj.progress_message,
        )

    @admin.display(description="payload")
    def pretty_payload(self, obj: Job) -> str:
        return pretty_json(obj.payload)

    @admin.display(description="result")
    def pretty_result(self, obj: Job) -> str:
        return pretty_json(obj.result)

    @admin.display(description="re-run of")
    def rerun_link(self, obj: Job) -> str:
        if obj.rerun_of_id is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:jobqueue_job_change", args=[obj.rerun_of_id]), obj.rerun_of_id
        )

    @admin.display(description="re-runs")
    def reruns_links(self, obj: Job) -> str:
        reruns = list(obj.reruns.order_by("created_at").values_list("pk", "status")[:20])
        if not reruns:
            return "—"
        return format_html_join(
            ", ", '<a href="{}">{}</a> ({})', ((change_url_of(pk), pk, status) for pk, status in reruns)
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        attempts = Attempt.objects.filter(job_id=object_id).order_by("number") if _is_uuid(object_id) else []
        type_name = (
            Job.objects.filter(pk=object_id).values_list("job_type__name", flat=True).first()
            if _is_uuid(object_id)
            else None
        )
        context = {
            **(extra_context or {}),
            "attempt_list": attempts,
            # Running a job again is enqueueing it again: the link needs the type's permission too.
            "can_rerun": request.user.has_perm("jobqueue.rerun_job")
            and (type_name is None or may_run_again(request.user, type_name)),
            "can_cancel": request.user.has_perm("jobqueue.cancel_job"),
        }
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self) -> list[URLPattern]:
        return [
            *console_urls(self.admin_site),
            path("<path:object_id>/rerun/", self.admin_site.admin_view(self.rerun_view), name="jobqueue_job_rerun"),
            path("<path:object_id>/cancel/", self.admin_site.admin_view(self.cancel_view), name="jobqueue_job_cancel"),
            *super().get_urls(),
        ]

    def rerun_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return single_action(
            self,
            request,
            object_id,
            permission="jobqueue.rerun_job",
            title="Re-run this job",
            perform=lambda job, reason: rerun(job, by=request.user, reason=reason),
            creates="re-run",
        )

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return single_action(
            self,
            request,
            object_id,
            permission="jobqueue.cancel_job",
            title="Cancel this job",
            perform=lambda job, reason: cancel(job, by=request.user, reason=reason),
        )

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobqueue.rerun_job")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobqueue.cancel_job")

    @admin.action(description="Re-run the selected jobs", permissions=["rerun"])
    def rerun_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> TemplateResponse | None:
        return reasoned_action(
            self,
            request,
            queryset,
            action="rerun_jobs",
            title="Re-run the selected jobs",
            perform=lambda job, reason: rerun(job, by=request.user, reason=reason),
            creates="re-run",
        )

    @admin.action(description="Cancel the selected jobs", permissions=["cancel"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> TemplateResponse | None:
        return reasoned_action(
            self,
            request,
            queryset,
            action="cancel_jobs",
            title="Cancel the selected jobs",
            perform=lambda job, reason: cancel(job, by=request.user, reason=reason),
        )


def change_url_of(pk: Any) -> str:
    return reverse("admin:jobqueue_job_change", args=[pk])


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


__all__ = ["JobAdmin", "change_url"]
