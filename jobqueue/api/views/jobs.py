"""/api/jobs/: enqueue (one or in bulk), list with filters and a cursor, detail, re-run, cancel."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from jobqueue.api.errors import FieldErrors, flatten
from jobqueue.api.pagination import NewestFirstCursor
from jobqueue.api.permissions import require_enqueue
from jobqueue.api.serializers.jobs import (
    BulkEnqueuedSerializer,
    BulkEnqueueSerializer,
    EnqueuedJobSerializer,
    EnqueueSerializer,
    JobDetailSerializer,
    JobFilterSerializer,
    JobSerializer,
    ReasonSerializer,
)
from jobqueue.api.views.base import ApiViewSet, admit, audited
from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import Job
from jobqueue.observability.search import SearchError, SearchTimeout, search, time_limited
from jobqueue.services import EnqueueRequest, cancel, enqueue, enqueue_many, rerun
from jobqueue.services.audit import actor_label


@extend_schema_view(
    list=extend_schema(parameters=[JobFilterSerializer], summary="List jobs, newest first"),
    retrieve=extend_schema(summary="One job with its attempts"),
)
class JobViewSet(ApiViewSet):
    lookup_value_regex = "[^/]+"
    pagination_class = NewestFirstCursor
    required_permissions = {
        "list": ["jobqueue.view_job"],
        "retrieve": ["jobqueue.view_job"],
        "create": ["jobqueue.add_job"],
        "bulk": ["jobqueue.add_job"],
        "rerun": ["jobqueue.rerun_job"],
        "cancel": ["jobqueue.cancel_job"],
    }

    def get_queryset(self) -> QuerySet[Job]:
        queryset = Job.objects.select_related("job_type")
        if self.action == "retrieve":
            return queryset.prefetch_related("attempt_set")
        return queryset

    def get_serializer_class(self) -> Any:
        return JobDetailSerializer if self.action == "retrieve" else JobSerializer

    def filter_queryset(self, queryset: QuerySet[Job]) -> QuerySet[Job]:
        if self.action != "list":
            return queryset
        params = JobFilterSerializer(data=self.request.query_params.dict())
        params.is_valid(raise_exception=True)
        lookups = {
            "type": "job_type__name",
            "status": "status",
            "priority": "priority",
            "created_after": "created_at__gte",
            "created_before": "created_at__lt",
            "unique_key": "unique_key",
            "rerun_of": "rerun_of_id",
        }
        filters = dict(params.validated_data)
        query = filters.pop("q", "")
        queryset = queryset.filter(**{lookups[k]: v for k, v in filters.items()})
        try:
            return search(queryset, query)
        except SearchError as exc:
            raise FieldErrors("the search query is not valid", {"q": [str(exc)]}) from exc

    def list(self, request: Request) -> Response:
        if not request.query_params.get("q"):
            page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
            return self.get_paginated_response(JobSerializer(page, many=True).data)
        try:
            with time_limited(jobqueue_settings.SEARCH_TIMEOUT):
                page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
                data = JobSerializer(page, many=True).data
        except SearchTimeout as exc:
            raise FieldErrors("the search query is too slow", {"q": [str(exc)]}) from exc
        return self.get_paginated_response(data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(JobDetailSerializer(self.get_object()).data)

    @extend_schema(
        request=EnqueueSerializer,
        responses={
            201: EnqueuedJobSerializer,
            200: OpenApiResponse(EnqueuedJobSerializer, description="a duplicate of a unique job: the existing one"),
        },
        summary="Enqueue a job",
        description="Needs `jobqueue.add_job` and the job type's own permission `jobqueue.enqueue_<type>`; "
        "built-in `jobqueue_*` types are refused to everyone (403).",
    )
    def create(self, request: Request) -> Response:
        incoming = EnqueueSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        require_enqueue(request.user, {"type": data["type"]})
        admit(request, [data["type"]])
        job = enqueue(
            data.pop("type"),
            data.pop("payload"),
            created_by=actor_label(request.user),
            **data,
        )
        duplicate = bool(job.is_duplicate)
        return Response(
            EnqueuedJobSerializer(job).data, status=status.HTTP_200_OK if duplicate else status.HTTP_201_CREATED
        )

    @extend_schema(
        request=BulkEnqueueSerializer,
        responses={201: BulkEnqueuedSerializer},
        summary="Enqueue many jobs, all or nothing",
        description="Needs `jobqueue.add_job` and, for every item, its job type's own permission "
        "`jobqueue.enqueue_<type>`; built-in `jobqueue_*` types are refused to everyone. One refused item "
        "refuses the call (403, `errors` by item index) and nothing is enqueued.",
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        incoming = BulkEnqueueSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        requests: list[EnqueueRequest] = []
        errors: dict[str, Any] = {}
        for index, item in enumerate(incoming.validated_data["jobs"]):
            one = EnqueueSerializer(data=item)
            if not one.is_valid():
                errors[str(index)] = flatten(one.errors)
                continue
            data = dict(one.validated_data)
            requests.append(EnqueueRequest(job_type=data.pop("type"), **data))
        if errors:
            raise FieldErrors(f"{len(errors)} invalid item(s); nothing was enqueued", errors)
        require_enqueue(request.user, {f"{i}.type": str(r.job_type) for i, r in enumerate(requests)})
        admit(request, [str(r.job_type) for r in requests])
        jobs = enqueue_many(requests, created_by=actor_label(request.user))
        return Response({"count": len(jobs), "ids": [str(job.pk) for job in jobs]}, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses={201: JobSerializer}, summary="Re-run a finished job")
    @action(detail=True, methods=["post"])
    def rerun(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        reason = _reason(request)
        admit(request, [job.job_type.name])
        new = audited(request, job, "rerun", reason, lambda: rerun(job, by=request.user, reason=reason))
        return Response(JobSerializer(new).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ReasonSerializer, responses={200: JobSerializer}, summary="Cancel a job (or ask a running one to stop)"
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        reason = _reason(request)
        done = audited(request, job, "cancel", reason, lambda: cancel(job, by=request.user, reason=reason))
        return Response(JobSerializer(done).data)


def _reason(request: Request) -> str:
    incoming = ReasonSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    return str(incoming.validated_data["reason"])
