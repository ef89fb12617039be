"""/api/schema/ and /api/docs/: a valid OpenAPI document with one payload schema per job type,
docs from local static files, and schemathesis with every check and the stateful phase (following
the links to jobs and dead letters) finding no disagreement between the document and the server."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
import schemathesis
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events

from jobqueue import enqueue
from jobqueue.models import ClusterHeartbeat
from jobqueue.registry import registry
from jobqueue.services.tokens import create_token
from tests.api.conftest import EVERYTHING
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def test_schema_needs_credentials(client) -> None:
    assert client.get("/api/schema/").status_code == 401
    assert client.get("/api/docs/").status_code == 401


@pytest.mark.database_independent(
    reason="the schema is generated from code; the database holds only the requesting user"
)
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
    for again in ("/api/jobs/{id}/rerun/", "/api/dead-letters/{id}/requeue/"):
        assert "jobqueue.enqueue_<type>" in schema["paths"][again]["post"]["responses"]["403"]["description"]
    assert schema["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


def test_operations_are_not_described_by_an_inherited_docstring(api) -> None:
    # The base viewset's docstring is a note for maintainers; drf-spectacular's default would
    # put it on every operation of a viewset that has no docstring of its own.
    from jobqueue.api.views.base import ApiViewSet

    schema = api.get("/api/schema/?format=json").json()
    note = " ".join(str(ApiViewSet.__doc__).split())[:40]
    operations = [op for item in schema["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert len(operations) > 40
    assert [op["operationId"] for op in operations if note in " ".join(op.get("description", "").split())] == []
    health = schema["paths"]["/api/health/"]["get"]
    assert health["description"].startswith("Open to anyone for the verdict alone")


def test_docs_are_served_from_local_static_files(api) -> None:
    html = api.get("/api/docs/").content.decode()
    # Every file the page loads is named by a path on this site, never by another host (a CDN).
    # (A substring test for "cdn" failed once on a random CSRF token that happened to hold it.)
    loaded = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in loaded
    assert all(url.startswith("/") and not url.startswith("//") for url in loaded), loaded
    assert "https://" not in html
    assert "http://" not in html


# The contract as `schemathesis run --checks all --phases examples,coverage,fuzzing,stateful`
# checks it against a running server (docs/api.md records that run), at a size a CI leg affords:
# every check, the fuzzing phase with a fixed seed, deterministic generation and no example
# database, two examples per operation, then 15 short stateful scenarios following the links. (The
# coverage phase's thousands of boundary cases are the CLI run's.)
SCHEMATHESIS_CONFIG = """
seed = 15
workers = 1
continue-on-failure = true
[generation]
max-examples = 2
deterministic = true
database = "none"
[phases.stateful]
max-steps = 8
[phases.stateful.generation]
max-examples = 15
[checks]
enabled = true
"""


def keep_cluster_live() -> None:
    """A live cluster, so that /api/health/ answers 200 (its documented 503 counts as a server error
    for not_a_server_error); refreshed, since a heartbeat older than 3 intervals is lost."""
    ClusterHeartbeat.objects.update_or_create(
        key="fuzz:1:x", defaults={"host": "fuzz", "pid": 1, "workers": 2, "last_seen_at": timezone.now()}
    )


def failures_of(event: events.ScenarioFinished) -> list[str]:
    lines = []
    for checks in event.recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                lines.append(
                    f"{event.phase.value} {event.label}: {check.name}: {failure.title}\n"
                    f"    {failure.message}\n    {check.failure_info.code_sample}"
                )
    return lines


@pytest.mark.django_db(transaction=True)
def test_schemathesis_with_every_check_and_the_stateful_phase_finds_nothing(make_user, live_server) -> None:
    # Every type's own enqueue permission too, so that the fuzzing reaches each type's happy path.
    every_type = [f"jobqueue.enqueue_{name}" for name in registry.names() if not name.startswith("jobqueue_")]
    user = make_user("fuzzer", *EVERYTHING, *every_type)
    headers = {"Authorization": f"Bearer {create_token(user, 'schemathesis').secret}"}
    # Dead letters and jobs for the stateful phase's links to reach (lists link to their first row).
    for _ in range(2):
        enqueue("permanent_failure", {})
    drain()
    enqueue("echo", {"value": 2})
    keep_cluster_live()
    config = SchemathesisConfig.from_str(SCHEMATHESIS_CONFIG)
    config.projects.default.update(headers=headers)
    config.projects.default.phases.update(phases=["fuzzing", "stateful"])
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json", config=config, headers=headers)
    # A chainhook delivery is a large nested document whose generation costs ten times any other
    # body; its validation is covered field by field in tests/tasks/test_chainhooks.py.
    schema = schema.exclude(path_regex="^/api/chainhooks/")
    started = time.monotonic()
    failures: list[str] = []
    cases: Counter[str] = Counter()
    reached: Counter[str] = Counter()
    for event in engine.from_schema(schema).execute():
        keep_cluster_live()
        if isinstance(event, events.ScenarioFinished):
            cases[event.phase.value] += len(event.recorder.cases)
            if event.phase.value == "stateful":
                for node in event.recorder.cases.values():
                    reached[f"{node.value.operation.method.upper()} {node.value.operation.path}"] += 1
            failures += failures_of(event)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"error in {getattr(event, 'label', 'the run')}: {event.info.format()}")
    elapsed = time.monotonic() - started
    print(f"schemathesis: {sum(cases.values())} cases ({dict(cases)}) in {elapsed:.1f} s")
    print("stateful phase reached: " + ", ".join(sorted(reached)))
    assert not failures, "\n\n".join(failures)
    assert cases["fuzzing"] > 0
    # The stateful scenarios followed the links to a job's and a dead letter's operations.
    assert reached["GET /api/jobs/{id}/"] > 0
    assert any(label.startswith("POST /api/dead-letters/{id}/") for label in reached)


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


def test_open_objects_and_free_form_values_of_users_types_state_that_nul_is_refused(api) -> None:
    """A user's payload model with extra keys allowed, a dict field and an Any field (tests/userjobs):
    the server refuses NUL in any key or value of them, and the schema says so."""
    components = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    no_nul = {"pattern": "^[^\\u0000]*$"}
    any_value = {"$ref": "#/components/schemas/JsonValueWithoutNul"}
    open_payload = components["UserOpenPayloadPayload"]
    assert (open_payload["propertyNames"], open_payload["additionalProperties"]) == (no_nul, any_value)
    free_form = components["UserFreeFormPayload"]["properties"]
    attributes = next(s for s in free_form["attributes"]["anyOf"] if s.get("type") == "object")
    assert (attributes["propertyNames"], attributes["additionalProperties"]) == (no_nul, any_value)
    assert free_form["anything"]["$ref"] == any_value["$ref"]
    any_json = components["JsonValueWithoutNul"]["anyOf"]
    assert {"type": "string", "pattern": no_nul["pattern"]} in any_json
    rejected = api.post("/api/jobs/", {"type": "user_open_payload", "payload": {"extra\u0000key": 1}}, format="json")
    assert rejected.status_code == 400
