"""/api/job-types/: each type's effective configuration, schemas and counts; edit; run now."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from jobqueue.api.errors import Conflict
from jobqueue.api.permissions import require_enqueue
from jobqueue.api.serializers.job_types import (
    JobTypeChangeSerializer,
    JobTypeSerializer,
    check_settings_json,
    describe,
)
from jobqueue.api.serializers.jobs import EnqueuedJobSerializer, RunNowSerializer, check_payload_json
from jobqueue.api.views.base import ApiViewSet, check_backlog
from jobqueue.models import DeadLetter, Job, JobType
from jobqueue.registry import NAME_RE, registry
from jobqueue.secrets.sealing import keep_masked
from jobqueue.services import enqueue, update_job_type
from jobqueue.services.audit import actor_label, record


def _counts(type_ids: list[int]) -> dict[int, dict[str, int]]:
    counts = {type_id: {"ready": 0, "running": 0, "dead": 0} for type_id in type_ids}
    sources: list[tuple[str, QuerySet[Any]]] = [
        ("ready", Job.objects.ready().filter(job_type_id__in=type_ids)),
        ("running", Job.objects.running().filter(job_type_id__in=type_ids)),
        ("dead", DeadLetter.objects.unresolved().filter(job_type_id__in=type_ids)),
    ]
    for key, queryset in sources:
        for row in queryset.values("job_type_id").annotate(n=Count("pk")).order_by():
            counts[row["job_type_id"]][key] = row["n"]
    return counts


@extend_schema_view(
    list=extend_schema(summary="Every job type", responses=JobTypeSerializer(many=True)),
    retrieve=extend_schema(summary="One job type", responses=JobTypeSerializer),
)
class JobTypeViewSet(ApiViewSet):
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    queryset = JobType.objects.all()
    serializer_class = JobTypeSerializer
    required_permissions = {
        "list": ["jobqueue.view_jobtype"],
        "retrieve": ["jobqueue.view_jobtype"],
        "partial_update": ["jobqueue.change_jobtype"],
        "run": ["jobqueue.add_job"],
    }
    throttled_actions = frozenset({"run"})

    def get_object(self) -> JobType:
        name = self.kwargs["name"]
        record = JobType.objects.filter(name=name).first() if NAME_RE.match(name) else None
        if record is None:
            raise Http404(f"no job type {name!r}")
        return record

    def list(self, request: Request) -> Response:
        records = list(JobType.objects.all())
        counts = _counts([r.pk for r in records])
        return Response(JobTypeSerializer([describe(r, counts[r.pk]) for r in records], many=True).data)

    def retrieve(self, request: Request, name: str) -> Response:
        record = self.get_object()
        return Response(JobTypeSerializer(describe(record, _counts([record.pk])[record.pk])).data)

    @extend_schema(request=JobTypeChangeSerializer, responses={200: JobTypeSerializer}, summary="Edit a job type")
    def partial_update(self, request: Request, name: str) -> Response:
        record = _registered(self.get_object())
        incoming = JobTypeChangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        changes = dict(incoming.validated_data)
        if "settings" in changes:
            model = registry.get(record.name).settings_model
            check_settings_json(model, changes["settings"])
            changes["settings"] = keep_masked(model, record.settings, changes["settings"])
        try:
            record = update_job_type(record, changes)
        except Exception as exc:
            record_outcome(request, record, changes, f"refused: {exc}")
            raise
        record_outcome(request, record, changes, "changed")
        return Response(JobTypeSerializer(describe(record, _counts([record.pk])[record.pk])).data)

    @extend_schema(
        request=RunNowSerializer,
        responses={201: EnqueuedJobSerializer},
        summary="Run a job type now",
        description="Needs `jobqueue.add_job` and the job type's own permission `jobqueue.enqueue_<type>`; "
        "built-in `jobqueue_*` types are refused to everyone (403).",
    )
    @action(detail=True, methods=["post"])
    def run(self, request: Request, name: str) -> Response:
        record = self.get_object()
        require_enqueue(request.user, {"name": record.name})
        _registered(record)
        incoming = RunNowSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        check_payload_json(record.name, incoming.validated_data.get("payload"))
        check_backlog([record.name])
        job = enqueue(record.name, created_by=actor_label(request.user), **incoming.validated_data)
        return Response(EnqueuedJobSerializer(job).data, status=status.HTTP_201_CREATED)


def _registered(record: JobType) -> JobType:
    if record.name not in registry:
        raise Conflict(f"job type {record.name!r} is no longer defined in code; restore its @job definition first")
    return record


def record_outcome(request: Request, record_: JobType, changes: dict[str, Any], outcome: str) -> None:
    # Secret values never reach the audit log: only the names of the fields changed.
    fields = sorted(changes)
    if "settings" in changes:
        fields.remove("settings")
        fields += [f"settings.{key}" for key in sorted(changes["settings"])]
    record(request.user, record_, "change job type", ", ".join(fields), outcome[:500])
