"""GET /api/metrics/, /api/health/ and /api/metrics/prometheus/: what the dashboard shows, for machines."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobqueue.api.authentication import ApiTokenAuthentication, SessionAuthentication
from jobqueue.api.errors import DATABASE_RETRY_AFTER, handle_exception
from jobqueue.config.settings import jobqueue_settings
from jobqueue.observability import health, metrics

logger = logging.getLogger(__name__)

WINDOWS = tuple(metrics.WINDOWS)
VIEW_PERMISSION = "jobqueue.view_job"


def _plain(value: Any) -> Any:
    """Dataclasses to JSON-ready values (datetimes as ISO 8601)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class CanViewJobs(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_perm(VIEW_PERMISSION))


class _Observability(APIView):
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [CanViewJobs]
    metadata_class = None  # OPTIONS is not offered: 405, as in the API's viewsets

    def get_exception_handler(self) -> Any:
        return handle_exception


def _window(request: Request) -> str:
    window = request.query_params.get("window", "1h")
    if window not in WINDOWS:
        raise ValidationError({"window": [f"must be one of {', '.join(WINDOWS)}"]})
    return window


class MetricsView(_Observability):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="metrics",
        parameters=[
            OpenApiParameter("window", str, enum=list(WINDOWS), description="default 1h"),
            OpenApiParameter("type", str, description="only this job type's figures"),
        ],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="the dashboard's metrics")},
    )
    def get(self, request: Request) -> Response:
        snapshot = metrics.snapshot(_window(request))
        body = _plain(snapshot)
        type_name = request.query_params.get("type")
        if type_name and "\x00" in type_name:
            # As every other query string: no NUL, which no job type's name holds.
            raise ValidationError({"type": ["may not contain NUL characters"]})
        if type_name:
            body["types"] = [t for t in body["types"] if t["name"] == type_name]
            body["depth"] = [d for d in body["depth"] if d["job_type"] == type_name]
        return Response(body)


class HealthReasonSerializer(serializers.Serializer):
    level = serializers.CharField()
    rule = serializers.CharField()
    message = serializers.CharField()


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["healthy", "degraded", "unhealthy"])
    checks = HealthReasonSerializer(many=True, required=False)
    clusters = serializers.ListField(child=serializers.DictField(), required=False)


class HealthView(_Observability):
    """Open to anyone for the verdict alone (load balancers); details need a login with view rights."""

    permission_classes: list[type[BasePermission]] = []
    renderer_classes = [JSONRenderer]

    def perform_authentication(self, request: Request) -> None:
        # Deferred to the details check below: users live in the database, and the verdict
        # must still answer (unhealthy) when the database does not.
        pass

    @extend_schema(
        operation_id="health",
        responses={200: HealthSerializer, 503: HealthSerializer},
    )
    def get(self, request: Request) -> Response:
        anonymous = not request.META.get("HTTP_AUTHORIZATION") and not request.COOKIES
        if anonymous:
            cached = _cached_verdict()
            if cached is not None:
                return Response({"status": cached[0]}, status=cached[1])
        try:
            snapshot = metrics.snapshot(jobqueue_settings.HEALTH_WINDOW)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("health check cannot reach the database: %s", exc)
            reason = health.Reason(
                health.Verdict.UNHEALTHY,
                "database",
                "the database is unreachable or out of connections; check the server and max_connections",
            )
            down = {"status": health.Verdict.UNHEALTHY.value, "checks": _plain([reason])}
            return Response(down, status=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER)})
        verdict = health.evaluate(snapshot)
        status = 503 if verdict.verdict == health.Verdict.UNHEALTHY else 200
        _keep_verdict(verdict.verdict.value, status)
        body: dict[str, Any] = {"status": verdict.verdict.value}
        if CanViewJobs().has_permission(request, self):
            body["checks"] = _plain(verdict.reasons)
            body["clusters"] = _plain(snapshot.clusters)
        return Response(body, status=status)


_HEALTH_KEY = "jobqueue:health:verdict"


def _cached_verdict() -> tuple[str, int] | None:
    try:
        value = cache.get(_HEALTH_KEY)
    except DatabaseError:  # the database cache is down with the database: compute (and answer unhealthy)
        return None
    return (str(value[0]), int(value[1])) if isinstance(value, list | tuple) and len(value) == 2 else None


def _keep_verdict(verdict: str, status: int) -> None:
    seconds = jobqueue_settings.HEALTH_CACHE_SECONDS
    if seconds:
        with contextlib.suppress(DatabaseError):
            cache.set(_HEALTH_KEY, [verdict, status], timeout=seconds)


class PrometheusRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return data.encode() if isinstance(data, str) else str(data).encode()


class PrometheusView(_Observability):
    """Queue depth, running jobs, counters and duration histograms in Prometheus text format."""

    renderer_classes = [PrometheusRenderer]

    def get_permissions(self) -> list[BasePermission]:
        return [] if jobqueue_settings.PROMETHEUS_PUBLIC else [CanViewJobs()]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        # One format: neither `?format=` (DRF's override) nor Accept picks another or a 404.
        renderer = PrometheusRenderer()
        return renderer, renderer.media_type

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON, as on every other endpoint (and as the schema documents them).
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    @extend_schema(operation_id="metrics_prometheus", responses={200: OpenApiTypes.STR})
    def get(self, request: Request) -> Response:
        from jobqueue.api.prometheus import exposition

        return Response(exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")
