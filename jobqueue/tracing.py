"""OpenTelemetry (the `otel` extra): trace context carried by jobs, a span per attempt, metrics.

Enqueue opens an "enqueue <type>" span (a PRODUCER) and stores its W3C trace context on the
job (`Job.trace_context`, through the propagator the project configured); the worker opens
a "run <type>" span (a CONSUMER) per attempt as its child, current while the job's code runs,
so a follow-up enqueued by the job (`ctx.enqueue`) is a grandchild of the attempt and joins
the same trace. Each finished attempt also adds to the metrics `jobqueue.attempts` and
`jobqueue.attempt.duration`, through the OpenTelemetry metrics API.

The API is imported only once something else in the process has imported OpenTelemetry:
a tracer or meter provider can only be configured that way (in the project's settings or WSGI
module, or by `opentelemetry-instrument`), so until then there is nothing to report to, and
every hook here does nothing without loading it (about 1.5 MiB and 30 modules per process, in
each of a cluster's processes). Without the extra nothing of it is ever loaded. With the API
loaded but no tracer provider configured, no span is made and nothing is stored; the metrics
go to the meter provider, if one is configured.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

_UNLOADED = object()
_otel: _Api | object | None = _UNLOADED

# Outcomes that are errors of the attempt (the span's status is set to ERROR).
_ERRORS = frozenset({"failed", "timed_out", "crashed"})


class _Api:
    """The OpenTelemetry API objects the queue uses, made once per process."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from opentelemetry import context, metrics, propagate, trace

        self.context, self.propagate, self.trace = context, propagate, trace
        # By default the global providers' proxies: a provider the project sets later (in its
        # settings or its WSGI module) is used. Tests pass providers of their own.
        self.tracer_provider = tracer_provider
        self.tracer = trace.get_tracer("jobqueue", tracer_provider=tracer_provider)
        meter = metrics.get_meter("jobqueue", meter_provider=meter_provider)
        self.attempts = meter.create_counter(
            "jobqueue.attempts", unit="{attempt}", description="Attempts finished, by job type and outcome."
        )
        self.duration = meter.create_histogram(
            "jobqueue.attempt.duration", unit="s", description="Run time of attempts, by job type and outcome."
        )

    def tracing(self) -> bool:
        """False while no tracer provider is configured: then no span is made at all (the
        API's no-op spans would cost every enqueue and attempt for nothing)."""
        provider = self.tracer_provider or self.trace.get_tracer_provider()
        return not isinstance(provider, self.trace.ProxyTracerProvider | self.trace.NoOpTracerProvider)


def _api() -> _Api | None:
    global _otel
    if _otel is _UNLOADED:
        if "opentelemetry" not in sys.modules:
            # Nobody has configured a provider (that imports it): nothing to report to yet.
            # Asked again next time (a dictionary lookup), so a provider set later is used.
            return None
        try:
            _otel = _Api()
        except ImportError:  # the extra is not installed
            _otel = None
    return _otel if isinstance(_otel, _Api) else None


def enabled() -> bool:
    """True when the OpenTelemetry API is in use: installed (the `otel` extra) and imported
    by the project, as configuring a tracer or meter provider does."""
    return _api() is not None


@contextlib.contextmanager
def enqueuing(type_name: str, count: int = 1) -> Iterator[dict[str, str] | None]:
    """The span of one enqueue call; yields the trace context its jobs carry (None when
    there is no trace to continue: no extra, no provider, or a trace not sampled)."""
    api = _api()
    if api is None or not api.tracing():
        yield None
        return
    attributes: dict[str, Any] = {
        "messaging.system": "jobqueue",
        "messaging.operation.type": "send",
        "messaging.operation.name": "enqueue",
        "messaging.destination.name": type_name,
        "jobqueue.job.type": type_name,
    }
    if count != 1:
        attributes["messaging.batch.message_count"] = count
    with api.tracer.start_as_current_span(
        f"enqueue {type_name}", kind=api.trace.SpanKind.PRODUCER, attributes=attributes
    ):
        carrier: dict[str, str] = {}
        api.propagate.inject(carrier)
        yield carrier or None


class AttemptSpan:
    """One attempt's span; `finished()` sets its outcome and counts it in the metrics."""

    def __init__(self, api: _Api | None, span: Any, type_name: str) -> None:
        self._api, self._span, self._type_name = api, span, type_name
        self._began = time.monotonic()

    def finished(self, outcome: str, status: str, error: BaseException | None = None, error_text: str = "") -> None:
        """The attempt ended with `outcome` (an `Outcome`), leaving its job `status`."""
        api = self._api
        if api is None:
            return
        seconds = time.monotonic() - self._began
        span = self._span
        if span is not None:
            span.set_attribute("jobqueue.outcome", outcome)
            span.set_attribute("jobqueue.job.status", status)
            if outcome in _ERRORS:
                if error is not None:
                    span.record_exception(error)
                span.set_status(api.trace.Status(api.trace.StatusCode.ERROR, error_text or outcome))
        labels = {"jobqueue.job.type": self._type_name, "jobqueue.outcome": outcome}
        api.attempts.add(1, labels)
        api.duration.record(seconds, labels)


_UNTRACED = AttemptSpan(None, None, "")


@contextlib.contextmanager
def attempt(
    type_name: str, job_id: str, number: int, trace_context: Mapping[str, str] | None, *, current: bool = True
) -> Iterator[AttemptSpan]:
    """The span of one attempt, a child of the enqueue whose `trace_context` the job carries
    (a new trace if it carries none). `current`: the span is the active one while the block
    runs, so the job's own spans and follow-ups descend from it (one per thread or task)."""
    api = _api()
    if api is None:
        yield _UNTRACED
        return
    if not api.tracing():
        yield AttemptSpan(api, None, type_name)  # counted in the metrics all the same
        return
    # From the job's carrier alone, never from whatever happens to be current in the worker.
    parent = api.propagate.extract(dict(trace_context or {}), context=api.context.Context())
    span = api.tracer.start_span(
        f"run {type_name}",
        context=parent,
        kind=api.trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "jobqueue",
            "messaging.operation.type": "process",
            "messaging.operation.name": "run",
            "messaging.destination.name": type_name,
            "messaging.message.id": job_id,
            "jobqueue.job.type": type_name,
            "jobqueue.job.id": job_id,
            "jobqueue.attempt": number,
        },
    )
    try:
        if current:
            with api.trace.use_span(span):
                yield AttemptSpan(api, span, type_name)
        else:
            yield AttemptSpan(api, span, type_name)
    finally:
        span.end()
