"""The test settings, plus OpenTelemetry providers set up the way a project would: spans and
metrics exported over OTLP/HTTP to the endpoints the environment names (the trace test's
receiver). Set up here, in the settings, so that qcluster's forked workers inherit them."""

import os

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.settings import *  # noqa: F403

_resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "jobqueue-worker")})
_tracer_provider = TracerProvider(resource=_resource)
# Batched as a deployment would, but sent within a fifth of a second: the test reads the spans
# while the cluster still runs. (The SDK restarts its export threads in each forked worker.)
_tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=200))
trace.set_tracer_provider(_tracer_provider)
_reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=500)
metrics.set_meter_provider(MeterProvider(resource=_resource, metric_readers=[_reader]))
