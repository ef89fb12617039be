"""/api/dead-letters/: list and detail; re-queue (one, or many by ids or filter) and discard."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from jobqueue.api.errors import PayloadConflict
from jobqueue.api.pagination import NewestFirstCursor
from jobqueue.api.serializers.dead_letters import (
    BulkRequeuedSerializer,
    BulkRequeueSerializer,
    DeadLetterFilterSerializer,
    DeadLetterSerializer,
    DiscardSerializer,
    RequeueSerializer,
)
from jobqueue.api.serializers.jobs import JobSerializer
from jobqueue.api.views.base import ApiViewSet, admit, audited
from jobqueue.config.settings import jobqueue_settings
from jobqueue.exceptions import ActionRefused, InvalidStateError, PayloadValidationError
from jobqueue.models import DeadLetter
from jobqueue.services import discard_dead_letter, requeue_dead_letter
from jobqueue.services.audit import record


@extend_schema_view(
    list=extend_schema(parameters=[DeadLetterFilterSerializer], summary="List dead letters, newest first"),
    retrieve=extend_schema(summary="One dead letter"),
)
class DeadLetterViewSet(ApiViewSet):
    lookup_value_regex = "[^/]+"
    pagination_class = NewestFirstCursor
    serializer_class = DeadLetterSerializer
    required_permissions = {
        "list": ["jobqueue.view_deadletter"],
        "retrieve": ["jobqueue.view_deadletter"],
        "requeue": ["jobqueue.requeue_deadletter"],
        "requeue_many": ["jobqueue.requeue_deadletter"],
        "discard": ["jobqueue.discard_deadletter"],
    }

    def get_queryset(self) -> QuerySet[DeadLetter]:
        return DeadLetter.objects.select_related("job_type")

    def filter_queryset(self, queryset: QuerySet[DeadLetter]) -> QuerySet[DeadLetter]:
        if self.action != "list":
            return queryset
        params = DeadLetterFilterSerializer(data=self.request.query_params.dict())
        params.is_valid(raise_exception=True)
        return _filtered(queryset, params.validated_data)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(DeadLetterSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(DeadLetterSerializer(self.get_object()).data)

    @extend_schema(request=RequeueSerializer, responses={201: JobSerializer}, summary="Re-queue a dead letter")
    @action(detail=True, methods=["post"])
    def requeue(self, request: Request, pk: str) -> Response:
        dead_letter = self.get_object()
        incoming = RequeueSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        reason = incoming.validated_data["reason"]
        payload = incoming.validated_data.get("payload")
        admit(request, [dead_letter.job_type.name])
        try:
            job = audited(
                request,
                dead_letter,
                "requeue",
                reason,
                lambda: requeue_dead_letter(dead_letter, by=request.user, payload=payload, reason=reason),
            )
        except PayloadValidationError as exc:
            # The body is well formed; its payload conflicts with this dead letter's job type,
            # which one operation for every type cannot declare: 409, errors by field.
            raise PayloadConflict(f"the payload does not fit job type {exc.job_type!r}", exc.errors) from None
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=BulkRequeueSerializer,
        responses={200: BulkRequeuedSerializer},
        summary="Re-queue many dead letters",
        operation_id="dead_letters_requeue_many",
    )
    @action(detail=False, methods=["post"], url_path="requeue", url_name="requeue-many")
    def requeue_many(self, request: Request) -> Response:
        incoming = BulkRequeueSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        unresolved: QuerySet[DeadLetter] = DeadLetter.objects.unresolved().select_related("job_type", "job")
        chosen = unresolved.filter(pk__in=data["ids"]) if "ids" in data else _filtered(unresolved, data)
        new_ids: list[str] = []
        failed: dict[str, str] = {}
        selected = list(chosen.order_by("created_at")[: jobqueue_settings.API_BULK_MAX])
        admit(request, [dead_letter.job_type.name for dead_letter in selected])
        for dead_letter in selected:
            try:
                # One savepoint each: a dead letter that cannot be re-queued leaves the others done.
                with transaction.atomic():
                    job = requeue_dead_letter(dead_letter, by=request.user, reason=data["reason"])
                new_ids.append(str(job.pk))
            except (InvalidStateError, PayloadValidationError, ActionRefused) as exc:
                failed[str(dead_letter.pk)] = str(exc)
                record(request.user, dead_letter, "requeue", data["reason"], f"refused: {exc}")
        return Response({"count": len(new_ids), "ids": new_ids, "failed": failed})

    @extend_schema(request=DiscardSerializer, responses={200: DeadLetterSerializer}, summary="Discard a dead letter")
    @action(detail=True, methods=["post"])
    def discard(self, request: Request, pk: str) -> Response:
        dead_letter = self.get_object()
        incoming = DiscardSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        reason = incoming.validated_data["reason"]
        done = audited(
            request,
            dead_letter,
            "discard",
            reason,
            lambda: discard_dead_letter(dead_letter, by=request.user, reason=reason),
        )
        return Response(DeadLetterSerializer(done).data)


def _filtered(queryset: QuerySet[DeadLetter], params: dict[str, Any]) -> QuerySet[DeadLetter]:
    if params.get("type"):
        queryset = queryset.filter(job_type__name=params["type"])
    if params.get("resolved") is True:
        queryset = queryset.exclude(resolution="")
    elif params.get("resolved") is False:
        queryset = queryset.filter(resolution="")
    if params.get("created_after"):
        queryset = queryset.filter(created_at__gte=params["created_after"])
    if params.get("created_before"):
        queryset = queryset.filter(created_at__lt=params["created_before"])
    return queryset
