"""A trace started by an API request holds the enqueue, the job's attempt in a real qcluster
worker and its follow-up job: the workers export over OTLP/HTTP (tests/settings_otel.py) to a
receiver this test runs, which decodes the protobuf requests as a collector would."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient
from werkzeug import Request, Response

from jobqueue import tracing
from jobqueue.models import Job, Status
from jobqueue.services.tokens import create_token
from tests.conftest import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def values(attributes: Any) -> dict[str, Any]:
    """OTLP attributes (KeyValue with an AnyValue) as a plain dict."""
    found: dict[str, Any] = {}
    for item in attributes:
        assert isinstance(item, KeyValue)
        found[item.key] = getattr(item.value, item.value.WhichOneof("value"))
    return found


@dataclass
class Collector:
    """What the receiver was sent: spans with their resource's attributes, and metric points."""

    spans: list[tuple[dict[str, Any], Span]] = field(default_factory=list)
    points: list[tuple[str, dict[str, Any], Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def named(self, name: str) -> list[Span]:
        with self.lock:
            return [span for _, span in self.spans if span.name == name]

    def resource_of(self, wanted: Span) -> dict[str, Any]:
        with self.lock:
            return next(resource for resource, span in self.spans if span.span_id == wanted.span_id)


def body(request: Request) -> bytes:
    data = request.get_data()
    return gzip.decompress(data) if request.headers.get("Content-Encoding") == "gzip" else data


@pytest.fixture
def collector(httpserver: HTTPServer) -> Collector:
    """An OTLP/HTTP receiver (protobuf) on the test's HTTP server: /v1/traces and /v1/metrics."""
    got = Collector()

    def traces(request: Request) -> Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(body(request))
        with got.lock:
            for resource_spans in message.resource_spans:
                resource = values(resource_spans.resource.attributes)
                for scope in resource_spans.scope_spans:
                    got.spans.extend((resource, span) for span in scope.spans)
        return Response(ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf")

    def metrics(request: Request) -> Response:
        message = ExportMetricsServiceRequest()
        message.ParseFromString(body(request))
        with got.lock:
            for resource_metrics in message.resource_metrics:
                for scope in resource_metrics.scope_metrics:
                    for metric in scope.metrics:
                        kind = metric.WhichOneof("data")
                        for point in getattr(metric, kind).data_points:
                            got.points.append((metric.name, values(point.attributes), point))
        return Response(ExportMetricsServiceResponse().SerializeToString(), content_type="application/x-protobuf")

    httpserver.expect_request("/v1/traces", method="POST").respond_with_handler(traces)
    httpserver.expect_request("/v1/metrics", method="POST").respond_with_handler(metrics)
    return got


def test_a_trace_started_by_an_api_request_holds_the_enqueue_the_attempt_and_the_follow_up(
    # The receiver first: it outlives the cluster, which exports what is left as it stops.
    collector: Collector,
    httpserver: HTTPServer,
    start_cluster: Callable[..., Any],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This process is the web server: its request span (as an HTTP instrumentation makes one)
    # and the enqueue inside it are kept in memory; the workers' spans go to the receiver.
    web_spans = InMemorySpanExporter()
    web = TracerProvider()
    web.add_span_processor(SimpleSpanProcessor(web_spans))
    monkeypatch.setattr(tracing, "_otel", tracing._Api(web))
    start_cluster(
        workers=1,
        DJANGO_SETTINGS_MODULE="tests.settings_otel",
        OTEL_EXPORTER_OTLP_ENDPOINT=httpserver.url_for("/").rstrip("/"),
        OTEL_SERVICE_NAME="jobqueue-worker",
    )
    user = make_user("tracer", "jobqueue.add_job", "jobqueue.enqueue_spawn_follow_up")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(user, 'tests').secret}")

    with web.get_tracer("web").start_as_current_span("POST /api/jobs/", kind=trace.SpanKind.SERVER) as request:
        response = api.post("/api/jobs/", {"type": "spawn_follow_up", "payload": {"value": 5}}, format="json")
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    trace_id = request.get_span_context().trace_id.to_bytes(16, "big")
    (enqueued,) = [s for s in web_spans.get_finished_spans() if s.name == "enqueue spawn_follow_up"]
    assert enqueued.parent is not None
    assert enqueued.parent.span_id == request.get_span_context().span_id

    wait_for(lambda: collector.named("run echo"), timeout=60, interval=0.2, message="no span of the follow-up's run")
    follow_up = Job.objects.get(created_by=f"job:{job_id}")
    assert Job.objects.get(pk=job_id).status == follow_up.status == Status.SUCCEEDED

    # The job's attempt, in the worker: a child of the enqueue made in the request.
    (ran,) = collector.named("run spawn_follow_up")
    assert ran.trace_id == trace_id
    assert ran.parent_span_id == enqueued.context.span_id.to_bytes(8, "big")
    assert ran.kind == Span.SpanKind.SPAN_KIND_CONSUMER
    attributes = values(ran.attributes)
    assert {k: attributes.get(k) for k in ("jobqueue.job.type", "jobqueue.job.id", "jobqueue.attempt")} == {
        "jobqueue.job.type": "spawn_follow_up",
        "jobqueue.job.id": job_id,
        "jobqueue.attempt": 1,
    }
    assert attributes["jobqueue.outcome"] == "succeeded"
    assert collector.resource_of(ran)["service.name"] == "jobqueue-worker"

    # The follow-up's enqueue, inside that attempt; its own attempt, a child of that enqueue.
    (follow_up_enqueued,) = collector.named("enqueue echo")
    assert follow_up_enqueued.trace_id == trace_id
    assert follow_up_enqueued.parent_span_id == ran.span_id
    (follow_up_ran,) = collector.named("run echo")
    assert follow_up_ran.trace_id == trace_id
    assert follow_up_ran.parent_span_id == follow_up_enqueued.span_id
    assert values(follow_up_ran.attributes)["jobqueue.job.id"] == str(follow_up.pk)

    # The workers' metrics, through the OpenTelemetry API, beside the spans.
    def counted() -> Any:
        with collector.lock:
            return [
                point.as_int
                for name, labels, point in collector.points
                if name == "jobqueue.attempts"
                and labels == {"jobqueue.job.type": "spawn_follow_up", "jobqueue.outcome": "succeeded"}
            ]

    assert wait_for(counted, timeout=30, interval=0.2, message="no jobqueue.attempts metric")[-1] == 1
    with collector.lock:
        timed = [p for name, labels, p in collector.points if name == "jobqueue.attempt.duration"]
    assert timed
    assert all(p.count >= 1 for p in timed)
