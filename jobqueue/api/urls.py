"""The API's routes; the project mounts them with `path("api/", include("jobqueue.api.urls"))`.

A project's own routes under /api/ go before that line: the last route here answers any
other path under /api/ with the API's JSON 404."""

from __future__ import annotations

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from jobqueue.api.schema import DocsView, SchemaView
from jobqueue.api.views.dead_letters import DeadLetterViewSet
from jobqueue.api.views.job_types import JobTypeViewSet
from jobqueue.api.views.jobs import JobViewSet
from jobqueue.api.views.not_found import not_found
from jobqueue.api.views.observability import HealthView, MetricsView, PrometheusView
from jobqueue.api.views.workflows import WorkflowViewSet

app_name = "jobqueue_api"

router = SimpleRouter()
router.register("job-types", JobTypeViewSet, basename="job-type")
router.register("jobs", JobViewSet, basename="job")
router.register("dead-letters", DeadLetterViewSet, basename="dead-letter")
router.register("workflows", WorkflowViewSet, basename="workflow")

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="jobqueue_api:schema"), name="docs"),
    path("metrics/", MetricsView.as_view(), name="metrics"),
    path("metrics/prometheus/", PrometheusView.as_view(), name="metrics-prometheus"),
    path("health/", HealthView.as_view(), name="health"),
    *router.urls,
    # Anything else under /api/ is a JSON 404, not the project's HTML page.
    re_path(r"^.*$", not_found),
]
