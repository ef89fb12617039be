"""OpenTelemetry in one process: every enqueue route stores the trace context, the worker's
attempt span is the enqueue's child with the attempt's attributes and error, a follow-up joins
the trace, and the attempts are counted in the metrics. (A real cluster: tests/integration/
test_tracing_cluster.py; without the extra: tests/test_tracing_absent.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rest_framework.test import APIClient

from jobqueue import enqueue, enqueue_many, tracing
from jobqueue.models import Job, Status
from jobqueue.services.tokens import create_token
from tests.djangotasks import tasks
from tests.helpers import drain

pytestmark = pytest.mark.django_db


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer: trace.Tracer

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        (span,) = self.named(name)
        return span

    def points(self, metric: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for found in scope.metrics
            if found.name == metric
            for point in found.data.data_points
        ]


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Telemetry]:
    """SDK providers of this test's own (the global ones are left alone), read in memory."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(tracing, "_otel", tracing._Api(tracer_provider, meter_provider))
    yield Telemetry(spans, reader, tracer_provider.get_tracer("tests"))
    tracer_provider.shutdown()
    meter_provider.shutdown()


def trace_id_of(job: Job) -> int:
    assert job.trace_context is not None
    return int(job.trace_context["traceparent"].split("-")[1], 16)


def test_enqueue_in_a_span_stores_its_context_and_the_attempt_continues_it(telemetry: Telemetry) -> None:
    with telemetry.tracer.start_as_current_span("request") as request:
        job = enqueue("echo", {"value": 7})
    stored = Job.objects.get(pk=job.pk)
    assert trace_id_of(stored) == request.get_span_context().trace_id
    enqueued = telemetry.one("enqueue echo")
    assert enqueued.kind == trace.SpanKind.PRODUCER
    assert enqueued.parent is not None
    assert enqueued.parent.span_id == request.get_span_context().span_id
    # What the job carries is the enqueue span's own context, in W3C form.
    assert stored.trace_context["traceparent"] == (
        f"00-{enqueued.context.trace_id:032x}-{enqueued.context.span_id:016x}-{enqueued.context.trace_flags:02x}"
    )

    drain()
    ran = telemetry.one("run echo")
    assert ran.kind == trace.SpanKind.CONSUMER
    assert ran.context.trace_id == request.get_span_context().trace_id
    assert ran.parent is not None
    assert ran.parent.span_id == enqueued.context.span_id
    expected = {
        "jobqueue.job.type": "echo",
        "jobqueue.job.id": str(job.pk),
        "jobqueue.attempt": 1,
        "jobqueue.outcome": "succeeded",
        "jobqueue.job.status": "succeeded",
    }
    attributes = dict(ran.attributes or {})
    assert {name: attributes.get(name) for name in expected} == expected
    assert ran.status.status_code == trace.StatusCode.UNSET


def test_a_failed_attempt_records_its_error_and_sets_the_status(telemetry: Telemetry) -> None:
    job = enqueue("permanent_failure")
    drain()
    ran = telemetry.one("run permanent_failure")
    assert Job.objects.get(pk=job.pk).status == Status.DEAD
    assert ran.status.status_code == trace.StatusCode.ERROR
    assert "PermanentError" in (ran.status.description or "")
    (event,) = [e for e in ran.events if e.name == "exception"]
    assert (event.attributes or {})["exception.type"].endswith("PermanentError")
    assert (ran.attributes or {})["jobqueue.outcome"] == "failed"
    assert (ran.attributes or {})["jobqueue.job.status"] == "dead"


def test_a_follow_up_joins_the_trace_of_the_attempt_that_enqueued_it(telemetry: Telemetry) -> None:
    parent = enqueue("spawn_follow_up", {"value": 3})
    drain()
    parent_run = telemetry.one("run spawn_follow_up")
    follow_up = Job.objects.get(created_by=f"job:{parent.pk}")
    assert follow_up.status == Status.SUCCEEDED
    assert trace_id_of(follow_up) == parent_run.context.trace_id
    (follow_up_enqueue,) = list(telemetry.named("enqueue echo"))
    assert follow_up_enqueue.parent is not None
    assert follow_up_enqueue.parent.span_id == parent_run.context.span_id
    follow_up_run = telemetry.one("run echo")
    assert follow_up_run.context.trace_id == parent_run.context.trace_id
    assert follow_up_run.parent is not None
    assert follow_up_run.parent.span_id == follow_up_enqueue.context.span_id


def test_a_follow_up_of_a_failed_attempt_is_never_written(telemetry: Telemetry) -> None:
    enqueue("spawn_follow_up", {"value": 3, "fail": True})
    drain()
    assert not Job.objects.filter(job_type__name="echo").exists()
    assert not telemetry.named("run echo")


def test_every_enqueue_route_stores_the_trace(telemetry: Telemetry, make_user: Any) -> None:
    user = make_user("tracer", "jobqueue.add_job", "jobqueue.enqueue_echo")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(user, 'tests').secret}")
    with telemetry.tracer.start_as_current_span("request") as request:
        many = enqueue_many([{"type": "echo", "payload": {"value": i}} for i in range(3)])
        one = api.post("/api/jobs/", {"type": "echo", "payload": {"value": 1}}, format="json")
        bulk = api.post("/api/jobs/bulk/", {"jobs": [{"type": "echo", "payload": {"value": 2}}] * 2}, format="json")
        task = tasks.add.enqueue(1, 2)
    assert (one.status_code, bulk.status_code) == (201, 201), (one.content, bulk.content)
    ids = [str(j.pk) for j in many] + [one.json()["id"], *bulk.json()["ids"], task.id]
    stored = Job.objects.filter(pk__in=ids)
    assert stored.count() == 7
    assert {trace_id_of(job) for job in stored} == {request.get_span_context().trace_id}
    batch = [s for s in telemetry.named("enqueue echo") if (s.attributes or {}).get("messaging.batch.message_count")]
    assert sorted((s.attributes or {})["messaging.batch.message_count"] for s in batch) == [2, 3]


def test_attempts_are_counted_by_type_and_outcome_with_their_run_time(telemetry: Telemetry) -> None:
    enqueue("echo", {"value": 1})
    enqueue("echo", {"value": 2})
    enqueue("permanent_failure")
    drain()
    counted = {
        (p.attributes["jobqueue.job.type"], p.attributes["jobqueue.outcome"]): p.value
        for p in telemetry.points("jobqueue.attempts")
    }
    assert counted == {("echo", "succeeded"): 2, ("permanent_failure", "failed"): 1}
    timed = {p.attributes["jobqueue.job.type"]: p for p in telemetry.points("jobqueue.attempt.duration")}
    assert timed["echo"].count == 2
    assert timed["echo"].sum > 0


@pytest.mark.parametrize("provider", [None, trace.NoOpTracerProvider()], ids=["global-unset", "no-op"])
def test_without_a_tracer_provider_nothing_is_stored(monkeypatch: pytest.MonkeyPatch, provider: Any) -> None:
    # The extra installed, but the project configured no tracer provider (this process sets no
    # global one) or the API's no-op one.
    monkeypatch.setattr(tracing, "_otel", tracing._Api(provider))
    with trace.get_tracer("tests").start_as_current_span("request"):
        job = enqueue("echo", {"value": 1})
    drain()
    found = Job.objects.get(pk=job.pk)
    assert found.status == Status.SUCCEEDED
    assert found.trace_context is None


def test_async_jobs_run_at_once_each_in_its_own_span(telemetry: Telemetry) -> None:
    jobs = [enqueue("wait_async", {"seconds": 0.1}) for _ in range(4)]
    drain()
    assert len(telemetry.named("enqueue wait_async")) == 4
    runs = {(s.attributes or {})["jobqueue.job.id"]: s for s in telemetry.named("run wait_async")}
    assert sorted(runs) == sorted(str(j.pk) for j in jobs)
    stored = {str(j.pk): Job.objects.get(pk=j.pk) for j in jobs}
    for job_id, span in runs.items():
        # Each run is the child of its own job's enqueue, though all ran on one event loop.
        assert span.context.trace_id == trace_id_of(stored[job_id])
        assert span.parent is not None
        assert f"{span.parent.span_id:016x}" == stored[job_id].trace_context["traceparent"].split("-")[2]


def test_a_batch_has_a_span_per_job(telemetry: Telemetry) -> None:
    jobs = enqueue_many([{"type": "batcher", "payload": {"item": i}} for i in range(3)])
    drain()
    runs = {(s.attributes or {})["jobqueue.job.id"]: s for s in telemetry.named("run batcher")}
    assert sorted(runs) == sorted(str(j.pk) for j in jobs)
    assert {s.context.trace_id for s in runs.values()} == {trace_id_of(jobs[0])}
    assert {(s.attributes or {})["jobqueue.outcome"] for s in runs.values()} == {"succeeded"}
