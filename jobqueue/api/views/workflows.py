"""/api/workflows/: list workflows, read one (its jobs and edges), cancel what has not finished.
The same permissions as jobs: `jobqueue.view_job` to read, `jobqueue.cancel_job` to cancel."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from jobqueue.api.serializers.jobs import ReasonSerializer
from jobqueue.api.views.base import ApiViewSet
from jobqueue.observability.workflows import WorkflowSummary, parse_id, workflow, workflows
from jobqueue.services import cancel_workflow


class WorkflowSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    status = serializers.CharField(help_text="running, succeeded (every job), or failed")
    jobs = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="jobs per status")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WorkflowJobSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    type = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    after = serializers.ListField(child=serializers.UUIDField(), help_text="the jobs it waits for")


class WorkflowDetailSerializer(WorkflowSerializer):
    job_list = WorkflowJobSerializer(many=True)


class WorkflowCancelledSerializer(serializers.Serializer[Any]):
    cancelled = serializers.IntegerField()
    cancel_requested = serializers.IntegerField()


def _summary(summary: WorkflowSummary) -> dict[str, Any]:
    return {
        "id": summary.id,
        "status": summary.status,
        "jobs": summary.jobs,
        "counts": summary.counts,
        "created_at": summary.created_at,
        "updated_at": summary.updated_at,
    }


@extend_schema_view(
    list=extend_schema(responses={200: WorkflowSerializer(many=True)}, summary="List workflows, newest first"),
    retrieve=extend_schema(responses={200: WorkflowDetailSerializer}, summary="One workflow with its jobs"),
)
class WorkflowViewSet(ApiViewSet):
    lookup_value_regex = "[^/]+"
    required_permissions = {
        "list": ["jobqueue.view_job"],
        "retrieve": ["jobqueue.view_job"],
        "cancel": ["jobqueue.cancel_job"],
    }

    def list(self, request: Request) -> Response:
        return Response(WorkflowSerializer([_summary(s) for s in workflows()], many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        key = parse_id(pk)
        found = workflow(key) if key else None
        if found is None:
            raise Http404(f"no workflow {pk}")
        after: dict[str, list[str]] = {}
        for job_id, on_id, _ in found.edges:
            after.setdefault(job_id, []).append(on_id)
        jobs = [{**vars(job), "after": after.get(job.id, [])} for job in found.jobs]
        return Response(WorkflowDetailSerializer({**_summary(found.summary), "job_list": jobs}).data)

    @extend_schema(
        request=ReasonSerializer,
        responses={200: WorkflowCancelledSerializer},
        summary="Cancel every job of a workflow that has not finished",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        key = parse_id(pk)
        if key is None or workflow(key) is None:
            raise Http404(f"no workflow {pk}")
        incoming = ReasonSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        done = cancel_workflow(key, by=request.user, reason=str(incoming.validated_data["reason"]))
        return Response(WorkflowCancelledSerializer(vars(done)).data)
