"""Jobs in the admin: a list that never counts the whole table, a detail page with every attempt,
and re-run / cancel with a reason, on one job or on a selection."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from jobqueue.admin.common import CappedPaginator, change_url, pretty_json, reasoned_action, single_action
from jobqueue.admin.dashboard import dashboard_view
from jobqueue.models import Attempt, Job, Status
from jobqueue.services import cancel, rerun


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "job_type", "status", "priority", "attempts", "created_at", "duration"]
    list_filter = ["status", "job_type", "priority", "created_at"]
    search_fields = ["=id", "=unique_key"]
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

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Job], search_term: str) -> Any:
        # "=id" on a UUID column: a term that is not a UUID matches nothing instead of erroring.
        import uuid

        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(pk=uuid.UUID(term)), False
        except ValueError:
            return queryset.filter(unique_key=term), False

    @admin.display(description="duration")
    def duration(self, obj: Job) -> str:
        if obj.started_at and obj.finished_at:
            return f"{(obj.finished_at - obj.started_at).total_seconds():.3f} s"
        return "—"

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
        context = {
            **(extra_context or {}),
            "attempt_list": attempts,
            "can_rerun": request.user.has_perm("jobqueue.rerun_job"),
            "can_cancel": request.user.has_perm("jobqueue.cancel_job"),
        }
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "dashboard/",
                self.admin_site.admin_view(lambda request: dashboard_view(self.admin_site, request)),
                name="jobqueue_dashboard",
            ),
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
