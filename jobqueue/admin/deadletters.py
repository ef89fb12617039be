"""Dead letters in the admin: inspect, re-queue (optionally with a corrected payload), discard with
a reason, and re-queue everything matching the current filter after a confirmation."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from jobqueue.admin import display
from jobqueue.admin.common import (
    PREVIEW,
    CappedPaginator,
    PayloadForm,
    ReasonForm,
    apply_each,
    change_url,
    confirm_page,
    pretty_json,
    rate_refusal,
    reasoned_action,
    single_action,
    within_job_rate,
)
from jobqueue.admin.live import LiveListMixin
from jobqueue.exceptions import ActionRefused, InvalidStateError, PayloadValidationError, UnknownJobTypeError
from jobqueue.models import DeadLetter
from jobqueue.services import discard_dead_letter, requeue_dead_letter
from jobqueue.services.jobrate import JobRateExceeded, spend, subject_of
from jobqueue.services.permissions import may_run_again


@admin.register(DeadLetter)
class DeadLetterAdmin(LiveListMixin, admin.ModelAdmin):
    list_display = ["short_id", "job_type", "reason", "short_error", "dead_since", "resolution"]
    list_display_links = None  # the short id is the link
    list_filter = ["resolution", "reason", "job_type", "created_at"]
    search_fields = ["=id", "=job__id"]
    list_select_related = ["job_type"]
    show_full_result_count = False
    paginator = CappedPaginator
    actions = ["requeue", "discard"]
    change_form_template = "jobqueue/admin/deadletter_detail.html"
    change_list_template = "jobqueue/admin/deadletter_list.html"
    readonly_fields = [
        "id",
        "job_link",
        "job_type",
        "reason",
        "error_type",
        "error_message",
        "pretty_traceback",
        "attempts",
        "created_at",
        "resolution",
        "resolved_at",
        "resolved_by",
        "resolution_reason",
        "requeued_job",
        "pretty_payload",
    ]
    fields = tuple(readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[DeadLetter], search_term: str) -> Any:
        import uuid

        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            value = uuid.UUID(term)
        except ValueError:
            return queryset.none(), False
        return queryset.filter(pk=value) | queryset.filter(job_id=value), False

    @admin.display(description="id", ordering="id")
    def short_id(self, obj: DeadLetter) -> str:
        return display.short_id(obj.pk, change_url(obj))

    @admin.display(description="dead since", ordering="created_at")
    def dead_since(self, obj: DeadLetter) -> str:
        return display.relative_time(obj.created_at)

    @admin.display(description="error")
    def short_error(self, obj: DeadLetter) -> str:
        return display.snippet(f"{obj.error_type}: {obj.error_message}" if obj.error_type else obj.error_message)

    @admin.display(description="job")
    def job_link(self, obj: DeadLetter) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:jobqueue_job_change", args=[obj.job_id]), obj.job_id)

    @admin.display(description="traceback")
    def pretty_traceback(self, obj: DeadLetter) -> str:
        return format_html('<pre class="jq-traceback">{}</pre>', obj.traceback or "—")

    @admin.display(description="payload")
    def pretty_payload(self, obj: DeadLetter) -> str:
        return pretty_json(obj.payload)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), **self._permissions(request)}
        shown = self.get_object(request, object_id)
        if shown is not None and not may_run_again(request.user, shown.job_type.name):
            context["can_requeue"] = False  # re-queueing is enqueueing: it needs the type's permission too
        return super().change_view(request, object_id, form_url, context)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {**(extra_context or {}), **self._permissions(request), "filters": request.GET.urlencode()}
        return super().changelist_view(request, context)

    def _permissions(self, request: HttpRequest) -> dict[str, bool]:
        return {
            "can_requeue": self.has_requeue_permission(request),
            "can_discard": self.has_discard_permission(request),
        }

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("requeue-matching/", view(self.requeue_matching_view), name="jobqueue_deadletter_requeue_matching"),
            path("<path:object_id>/requeue/", view(self.requeue_view), name="jobqueue_deadletter_requeue"),
            path("<path:object_id>/discard/", view(self.discard_view), name="jobqueue_deadletter_discard"),
            *super().get_urls(),
        ]

    def requeue_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Re-queue one dead letter, with its payload shown for correction (validated on submit)."""
        if not self.has_requeue_permission(request):
            raise PermissionDenied
        dead_letter = self.get_object(request, object_id)
        if dead_letter is None:
            raise Http404("no such dead letter")
        if request.method == "POST":
            form = PayloadForm(request.POST)
            if form.is_valid():
                try:
                    spend(subject_of(request.user), 1)
                    job = requeue_dead_letter(
                        dead_letter,
                        by=request.user,
                        payload=form.cleaned_data["payload"],
                        reason=form.cleaned_data["reason"],
                    )
                except PayloadValidationError as exc:
                    form.add_payload_errors(exc)
                except JobRateExceeded as exc:
                    form.add_error(None, rate_refusal(exc, "re-queued"))
                except (InvalidStateError, UnknownJobTypeError, ActionRefused) as exc:
                    form.add_error(None, str(exc))
                else:
                    self.message_user(request, f"Re-queued as job {job.pk}.", messages.SUCCESS)
                    return redirect(change_url(dead_letter))
        else:
            form = PayloadForm(initial={"payload": dead_letter.payload})
        return confirm_page(
            self,
            request,
            title="Re-queue this dead letter",
            objects=[dead_letter],
            count=1,
            form=form,
            submit="Re-queue",
        )

    def discard_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return single_action(
            self,
            request,
            object_id,
            permission="jobqueue.discard_deadletter",
            title="Discard this dead letter",
            perform=lambda dl, reason: discard_dead_letter(dl, by=request.user, reason=reason),
        )

    def requeue_matching_view(self, request: HttpRequest) -> HttpResponse:
        """Re-queue every unresolved dead letter the list's current filters match, after a
        confirmation page that states how many."""
        if not self.has_requeue_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            self.message_user(request, "These filters are not valid; nothing was re-queued.", messages.ERROR)
            return redirect("admin:jobqueue_deadletter_changelist")
        matching = changelist.get_queryset(request).filter(resolution="")
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            if within_job_rate(request, matching.count(), "re-queued"):
                apply_each(self, request, matching, lambda dl: requeue_dead_letter(dl, by=request.user, reason=reason))
            return redirect(f"{reverse('admin:jobqueue_deadletter_changelist')}?{request.GET.urlencode()}")
        return confirm_page(
            self,
            request,
            title="Re-queue all matching dead letters",
            objects=list(matching[:PREVIEW]),
            count=matching.count(),
            form=form,
            submit="Re-queue all",
            extra={"note": "Only unresolved dead letters are re-queued, each with its stored payload."},
        )

    def has_requeue_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobqueue.requeue_deadletter")

    def has_discard_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobqueue.discard_deadletter")

    @admin.action(description="Re-queue the selected dead letters", permissions=["requeue"])
    def requeue(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> TemplateResponse | None:
        return reasoned_action(
            self,
            request,
            queryset,
            action="requeue",
            title="Re-queue the selected dead letters",
            perform=lambda dl, reason: requeue_dead_letter(dl, by=request.user, reason=reason),
            creates="re-queued",
        )

    @admin.action(description="Discard the selected dead letters", permissions=["discard"])
    def discard(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> TemplateResponse | None:
        return reasoned_action(
            self,
            request,
            queryset,
            action="discard",
            title="Discard the selected dead letters",
            perform=lambda dl, reason: discard_dead_letter(dl, by=request.user, reason=reason),
        )
