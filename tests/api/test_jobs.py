"""POST/GET /api/jobs/ and /api/jobs/{id}/: enqueue, validation, limits, list, detail, rerun, cancel."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.test import override_settings
from django.utils import timezone

from jobqueue import enqueue
from jobqueue.models import Job, Status
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def test_enqueue_returns_the_job(api) -> None:
    response = api.post("/api/jobs/", {"type": "echo", "payload": {"value": 3}, "priority": 7}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["type"], body["payload"], body["priority"], body["status"]) == (
        "echo",
        {"value": 3, "label": ""},
        7,
        "queued",
    )
    assert body["duplicate"] is False
    job = Job.objects.get(pk=body["id"])
    assert job.created_by == "user:operator"


def test_enqueue_with_delay_is_scheduled(api) -> None:
    response = api.post("/api/jobs/", {"type": "echo", "payload": {"value": 1}, "delay": 60}, format="json")
    assert response.json()["status"] == "scheduled"


def test_payload_errors_name_each_bad_field(api) -> None:
    response = api.post(
        "/api/jobs/", {"type": "typed_settings", "payload": {"text": "", "count": 99, "extra": 1}}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"payload.text", "payload.count", "payload.extra"}
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "nope", "payload": {}}, "type"),
        ({"payload": {}}, "type"),
        ({"type": "echo", "payload": {"value": 1}, "priority": 500}, "priority"),
        ({"type": "echo", "payload": {"value": 1}, "delay": -1}, "delay"),
        ({"type": "echo", "payload": {"value": 1}, "delay": 1, "run_after": "2030-01-01T00:00:00Z"}, "delay"),
        ({"type": "echo", "payload": {"value": 1}, "function": "os.system"}, "function"),
        ({"type": "echo", "payload": [1, 2]}, "payload"),
    ],
)
def test_invalid_enqueue_requests_are_400_with_the_field(api, body, field) -> None:
    response = api.post("/api/jobs/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "echo", "payload": {"value": NaN}}',
        b'{"type": "echo", "payload": {"value": 1e999}}',
        b'{"type": "echo", "payload": {"value": 1, "label": "\xff\xfe"}}',
        b'{"type": "echo", "payload": {"value": 1, "label": "a\\u0000b"}}',
        b'{"type": "echo", "payload": {"value": 1, "label": "\\ud800"}}',
        b"[" * 50 + b"]" * 50,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"type": ',
    ],
)
def test_hostile_json_is_400(api, raw) -> None:
    response = api.generic("POST", "/api/jobs/", raw, content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_body_over_the_limit_is_413(api) -> None:
    body = json.dumps({"type": "echo", "payload": {"value": 1, "label": "x" * 300_000}})
    response = api.generic("POST", "/api/jobs/", body, content_type="application/json")
    assert response.status_code == 413
    with override_settings(JOBQUEUE={"API_MAX_BODY_BYTES": 10_000_000}):
        assert api.generic("POST", "/api/jobs/", body, content_type="application/json").status_code == 201


def test_other_media_types_are_415(api) -> None:
    response = api.post("/api/jobs/", {"type": "echo"}, format="multipart")
    assert response.status_code == 415


def test_roles_401_403(client_for, client) -> None:
    body = {"type": "echo", "payload": {"value": 1}}
    anonymous = client.post("/api/jobs/", body, content_type="application/json")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/jobs/").status_code == 401
    viewer = client_for("jobqueue.view_job")
    assert viewer.get("/api/jobs/").status_code == 200
    assert viewer.post("/api/jobs/", body, format="json").status_code == 403
    enqueuer = client_for("jobqueue.add_job", "jobqueue.enqueue_echo")
    assert enqueuer.get("/api/jobs/").status_code == 403
    assert enqueuer.post("/api/jobs/", body, format="json").status_code == 201


def test_405_and_404(api) -> None:
    job = enqueue("echo", {"value": 1})
    assert api.delete(f"/api/jobs/{job.pk}/").status_code == 405
    assert api.put(f"/api/jobs/{job.pk}/", {}, format="json").status_code == 405
    assert api.get("/api/jobs/not-a-uuid/").status_code == 404
    assert api.get("/api/jobs/0190a5a0-0000-7000-8000-000000000000/").status_code == 404
    missing = api.get("/api/nothing/here/")
    assert (missing.status_code, missing["Content-Type"]) == (404, "application/json")


@override_settings(JOBQUEUE={"API_ENQUEUE_RATE": "3/minute"})
def test_enqueue_is_throttled_per_user_with_retry_after(api, client_for) -> None:
    body = {"type": "echo", "payload": {"value": 1}}
    codes = [api.post("/api/jobs/", body, format="json").status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    refused = api.post("/api/jobs/", body, format="json")
    assert int(refused["Retry-After"]) > 0
    assert api.get("/api/jobs/").status_code == 200  # reading is not throttled
    other = client_for("jobqueue.add_job", "jobqueue.enqueue_echo")
    assert other.post("/api/jobs/", body, format="json").status_code == 201  # per user


@override_settings(JOBQUEUE={"API_MAX_READY_PER_TYPE": 3, "API_BACKLOG_RETRY_AFTER": 17})
def test_a_full_backlog_answers_503_with_retry_after(api) -> None:
    for i in range(3):
        enqueue("echo", {"value": i})
    enqueue("noop", {})
    response = api.post("/api/jobs/", {"type": "echo", "payload": {"value": 9}}, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == "17"
    assert "echo" in response.json()["detail"]
    assert api.post("/api/jobs/", {"type": "noop"}, format="json").status_code == 201  # other types flow
    drain()
    assert api.post("/api/jobs/", {"type": "echo", "payload": {"value": 9}}, format="json").status_code == 201


def test_list_filters_newest_first(api) -> None:
    first = enqueue("echo", {"value": 1}, priority=5)
    second = enqueue("noop", {})
    third = enqueue("echo", {"value": 2}, unique_key="k-1")
    ids = [row["id"] for row in api.get("/api/jobs/").json()["results"]]
    assert ids == [str(third.pk), str(second.pk), str(first.pk)]
    assert [r["id"] for r in api.get("/api/jobs/?type=echo&priority=5").json()["results"]] == [str(first.pk)]
    assert [r["id"] for r in api.get("/api/jobs/?unique_key=k-1").json()["results"]] == [str(third.pk)]
    after = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api.get("/api/jobs/", {"created_after": after}).json()["results"] == []
    assert len(api.get("/api/jobs/", {"created_before": after}).json()["results"]) == 3
    assert api.get("/api/jobs/?status=succeeded").json()["results"] == []
    bad = api.get("/api/jobs/?status=bogus&priority=x&rerun_of=1")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"status", "priority", "rerun_of"}


def test_cursor_pagination_is_stable_under_inserts(api) -> None:
    created = [enqueue("echo", {"value": i}) for i in range(7)]
    page = api.get("/api/jobs/?page_size=3").json()
    seen = [row["id"] for row in page["results"]]
    for i in range(5):  # new jobs arrive while the client pages
        enqueue("echo", {"value": 100 + i})
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    assert seen == [str(job.pk) for job in reversed(created)]
    assert api.get("/api/jobs/?cursor=garbage").status_code == 404


def test_detail_has_attempts_and_progress(api) -> None:
    job = enqueue("echo", {"value": 4})
    drain()
    body = api.get(f"/api/jobs/{job.pk}/").json()
    assert body["status"] == "succeeded"
    assert body["attempt_count"] == 1
    (attempt,) = body["attempts"]
    assert attempt["number"] == 1
    assert attempt["outcome"] == "succeeded"
    assert attempt["duration_ms"] is not None
    assert attempt["worker"]
    assert any("echo 4" in str(line) for line in attempt["logs"])
    assert "progress" in body


def test_rerun_creates_a_linked_job_and_is_audited(api, client_for) -> None:
    job = enqueue("echo", {"value": 1})
    assert api.post(f"/api/jobs/{job.pk}/rerun/", {"reason": "x"}, format="json").status_code == 409
    drain()
    assert client_for("jobqueue.view_job").post(f"/api/jobs/{job.pk}/rerun/", {}, format="json").status_code == 403
    response = api.post(f"/api/jobs/{job.pk}/rerun/", {"reason": "customer asked"}, format="json")
    assert response.status_code == 201
    assert response.json()["rerun_of"] == str(job.pk)
    assert [r["id"] for r in api.get(f"/api/jobs/?rerun_of={job.pk}").json()["results"]] == [response.json()["id"]]
    entries = LogEntry.objects.filter(object_id=str(job.pk)).order_by("pk")
    messages = [json.loads(e.change_message) for e in entries]
    assert [(m["action"], m["reason"]) for m in messages] == [("rerun", "x"), ("rerun", "customer asked")]
    assert messages[0]["outcome"].startswith("refused: ")
    assert messages[1]["outcome"] == f"re-run as {response.json()['id']}"
    assert {e.user for e in entries} == {api.user}


def test_cancel_waiting_job_then_409(api, client_for) -> None:
    job = enqueue("echo", {"value": 1})
    assert client_for("jobqueue.view_job").post(f"/api/jobs/{job.pk}/cancel/").status_code == 403
    response = api.post(f"/api/jobs/{job.pk}/cancel/", {"reason": "mistake"}, format="json")
    assert (response.status_code, response.json()["status"]) == (200, Status.CANCELLED)
    again = api.post(f"/api/jobs/{job.pk}/cancel/")
    assert again.status_code == 409
    assert "already cancelled" in again.json()["detail"]
    refused = LogEntry.objects.filter(object_id=str(job.pk)).order_by("pk").last()
    assert json.loads(refused.change_message)["outcome"].startswith("refused")


def test_cancel_of_a_running_job_is_a_request(api) -> None:
    from tests.helpers import CLUSTER, claim

    job = enqueue("echo", {"value": 1})
    claim(1, CLUSTER)
    body = api.post(f"/api/jobs/{job.pk}/cancel/").json()
    assert body["status"] == "running"
    assert body["cancel_requested_at"] is not None


def test_unknown_fields_are_refused_not_ignored(api) -> None:
    job = enqueue("echo", {"value": 1})
    response = api.post(f"/api/jobs/{job.pk}/cancel/", {"reason": "x", "force": True}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"force": ["unknown field"]}
    assert Job.objects.get(pk=job.pk).status == Status.QUEUED


def test_a_duplicate_unique_job_answers_200_with_the_existing_job(api) -> None:
    first = api.post("/api/jobs/", {"type": "unique_by_key", "payload": {"key": "k"}}, format="json")
    again = api.post("/api/jobs/", {"type": "unique_by_key", "payload": {"key": "k"}}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    assert Job.objects.filter(job_type__name="unique_by_key").count() == 1


def test_rerun_needs_the_job_types_own_permission(client_for) -> None:
    job = enqueue("echo", {"value": 1})
    drain()
    client = client_for("jobqueue.view_job", "jobqueue.rerun_job")  # may re-run, but not enqueue echo
    response = client.post(f"/api/jobs/{job.pk}/rerun/", {"reason": "again"}, format="json")
    assert response.status_code == 403
    assert "jobqueue.enqueue_echo" in response.json()["detail"]
    assert not Job.objects.filter(rerun_of=job).exists()
    refusal = json.loads(LogEntry.objects.get(object_id=str(job.pk)).change_message)
    assert refusal["outcome"].startswith("refused: enqueueing jobs of type 'echo'")
    allowed = client_for("jobqueue.view_job", "jobqueue.rerun_job", "jobqueue.enqueue_echo")
    assert allowed.post(f"/api/jobs/{job.pk}/rerun/", {"reason": "again"}, format="json").status_code == 201


@pytest.mark.parametrize("run_after", ["0001-01-01T00:00:00Z", "2000-01-01T00:00:00Z", "9999-12-31T00:00:00Z"])
def test_run_after_is_bounded(api, run_after: str) -> None:
    early = enqueue("echo", {"value": 0})  # already waiting at the same priority
    before = timezone.now()
    body = {"type": "echo", "payload": {"value": 1}, "run_after": run_after}
    response = api.post("/api/jobs/", body, format="json")
    assert response.status_code == 201
    job = Job.objects.get(pk=response.json()["id"])
    assert job.run_after >= before - timedelta(seconds=1)  # never jumps ahead of a job enqueued earlier
    assert job.run_after >= early.run_after
    assert job.run_after <= timezone.now() + timedelta(days=366)
    just_past = timezone.now() - timedelta(seconds=30)  # a client's clock a little behind: kept as given
    kept = api.post("/api/jobs/", {**body, "run_after": just_past.isoformat()}, format="json").json()
    assert Job.objects.get(pk=kept["id"]).run_after == just_past


def test_a_partitioned_job_shows_its_partition_value(api) -> None:
    job = enqueue("per_dao", {"dao": "dao-9"})
    assert api.get(f"/api/jobs/{job.pk}/").json()["partition_key"] == "dao-9"
    listed = api.get("/api/jobs/?type=per_dao").json()["results"]
    assert [row["partition_key"] for row in listed] == ["dao-9"]
    assert api.get(f"/api/jobs/{enqueue('echo', {'value': 1}).pk}/").json()["partition_key"] == ""
