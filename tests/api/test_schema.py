"""/api/schema/ and /api/docs/: a valid OpenAPI document with one payload schema per job type,
docs from local static files, and a bounded schemathesis run that finds no 500 and no
response off the schema."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jobqueue import enqueue
from jobqueue.models import ClusterHeartbeat, DeadLetter, Job
from jobqueue.registry import registry
from jobqueue.services.tokens import create_token
from tests.api.conftest import EVERYTHING
from tests.helpers import drain

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 25


def test_schema_needs_credentials(client) -> None:
    assert client.get("/api/schema/").status_code == 401
    assert client.get("/api/docs/").status_code == 401


def test_schema_is_valid_and_types_each_payload(api) -> None:
    GENERATOR_STATS.reset()
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert not GENERATOR_STATS, "drf-spectacular warned while generating the schema"
    schema = response.json()
    validate_schema(schema)
    components = schema["components"]["schemas"]
    one_of = components["EnqueueJob"]
    assert one_of["discriminator"]["propertyName"] == "type"
    # Built-in jobqueue_* types are refused to everyone: no request schema offers them.
    assert set(one_of["discriminator"]["mapping"]) == {n for n in registry.names() if not n.startswith("jobqueue_")}
    echo = components["EnqueueEcho"]
    assert echo["properties"]["type"] == {"type": "string", "enum": ["echo"]}
    assert components["EchoPayload"]["required"] == ["value"]
    assert components["TypedSettingsPayload"]["properties"]["text"]["maxLength"] == 280
    post = schema["paths"]["/api/jobs/"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EnqueueJob"}
    assert {"201", "200", "400", "401", "403", "413", "429", "503"} <= set(post["responses"])
    assert "jobqueue.enqueue_<type>" in post["responses"]["403"]["description"]
    assert schema["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


def test_docs_are_served_from_local_static_files(api) -> None:
    html = api.get("/api/docs/").content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "https://" not in html


@pytest.fixture
def in_process_wsgi() -> Iterator[object]:
    # Like Django's test client: requests must not close the test's connection (and its transaction).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def keep_cluster_live() -> None:
    """A live cluster, so that /api/health/ answers 200 (its documented 503 counts as a server error
    for not_a_server_error); refreshed, since a heartbeat older than 3 intervals is lost."""
    ClusterHeartbeat.objects.update_or_create(
        key="fuzz:1:x", defaults={"host": "fuzz", "pid": 1, "workers": 2, "last_seen_at": timezone.now()}
    )


def test_schemathesis_finds_no_server_error_and_no_schema_violation(make_user, in_process_wsgi) -> None:
    # Every type's own enqueue permission too, so that the fuzzing reaches each type's happy path.
    every_type = [f"jobqueue.enqueue_{name}" for name in registry.names() if not name.startswith("jobqueue_")]
    user = make_user("fuzzer", *EVERYTHING, *every_type)
    headers = {"Authorization": f"Bearer {create_token(user, 'schemathesis').secret}"}
    enqueue("echo", {"value": 1})
    enqueue("permanent_failure", {})
    drain()
    waiting = enqueue("echo", {"value": 2})
    keep_cluster_live()
    # Half of the cases name real objects, so that the fuzzing gets past the 404s.
    real = {
        "/api/jobs/": [str(pk) for pk in Job.objects.values_list("pk", flat=True)] + [str(waiting.pk)],
        "/api/dead-letters/": [str(pk) for pk in DeadLetter.objects.values_list("pk", flat=True)],
        "/api/job-types/": ["echo", "typed_settings", "noop"],
        "/api/chainhooks/": ["dao-events"],
    }
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", in_process_wsgi, headers=headers)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    started = time.monotonic()
    operations = 0
    statuses: Counter[tuple[str, int]] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        # A chainhook delivery is a large nested document; generating it costs ten times any
        # other body, and its validation is covered field by field in tests/tasks/test_chainhooks.py.
        examples = 5 if operation.path.startswith("/api/chainhooks/") else EXAMPLES_PER_OPERATION

        @given(case=operation.as_strategy(), pick=st.none() | st.integers(min_value=0, max_value=10))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case, pick: int | None) -> None:
            keep_cluster_live()
            if pick is not None and case.path_parameters:
                choices = next(v for prefix, v in real.items() if case.path.startswith(prefix))
                key = next(iter(case.path_parameters))
                case.path_parameters = {key: choices[pick % len(choices)]}
            # The cluster stays live however long the fuzzing takes (the chainhook body is large).
            ClusterHeartbeat.objects.filter(key="fuzz:1:x").update(last_seen_at=timezone.now())
            response = case.call_and_validate(headers=headers, checks=checks)
            statuses[(f"{case.method} {case.path}", response.status_code)] += 1

        run()
    elapsed = time.monotonic() - started
    print(f"schemathesis: {operations} operations, {sum(statuses.values())} calls in {elapsed:.1f} s")
    for (label, code), count in sorted(statuses.items()):
        print(f"  {label} {code}: {count}")
    assert operations >= 15
    # The generated calls reached the happy paths, not only the validation errors.
    assert statuses[("POST /api/jobs/", 201)] > 0
    assert statuses[("GET /api/jobs/", 200)] > 0


def test_links_lead_from_enqueues_and_lists_to_the_objects(api) -> None:
    paths = api.get("/api/schema/?format=json").json()["paths"]
    created = paths["/api/jobs/"]["post"]["responses"]["201"]["links"]
    assert created["jobs_retrieve"] == {"operationId": "jobs_retrieve", "parameters": {"id": "$response.body#/id"}}
    listed = paths["/api/dead-letters/"]["get"]["responses"]["200"]["links"]
    assert listed["dead_letters_requeue_create"]["parameters"] == {"id": "$response.body#/results/0/id"}
    assert "/api/job-types/{name}/" not in paths
    assert set(paths["/api/job-types/echo/"]) == {"get", "patch"}
    ran = paths["/api/job-types/echo/run/"]["post"]["responses"]["201"]["links"]
    assert ran["jobs_cancel_create"]["parameters"] == {"id": "$response.body#/id"}
