"""/api/dead-letters/: list, filters, detail, requeue (one and bulk), discard, audit."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry

from jobqueue import enqueue
from jobqueue.models import DeadLetter, Job
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def make_dead(count: int = 1, job_type: str = "permanent_failure") -> list[DeadLetter]:
    for _ in range(count):
        enqueue(job_type, {})
    drain()
    return list(DeadLetter.objects.filter(job_type__name=job_type).order_by("created_at"))


def broken_echo() -> DeadLetter:
    job = enqueue("echo", {"value": 1})
    Job.objects.filter(pk=job.pk).update(payload={"value": "broken"})
    drain()
    return DeadLetter.objects.get(job=job)


def test_list_filters_and_detail(api, client_for) -> None:
    first, second = make_dead(2)
    echo_dead = broken_echo()
    rows = api.get("/api/dead-letters/").json()["results"]
    assert [r["id"] for r in rows] == [str(echo_dead.pk), str(second.pk), str(first.pk)]
    assert len(api.get("/api/dead-letters/?type=echo").json()["results"]) == 1
    assert api.get("/api/dead-letters/?resolved=true").json()["results"] == []
    assert len(api.get("/api/dead-letters/?resolved=false").json()["results"]) == 3
    assert api.get("/api/dead-letters/?created_after=2999-01-01T00:00:00Z").json()["results"] == []
    assert api.get("/api/dead-letters/?created_after=yesterday").status_code == 400
    detail = api.get(f"/api/dead-letters/{first.pk}/").json()
    assert (detail["type"], detail["reason"], detail["resolved"]) == ("permanent_failure", "permanent_error", False)
    assert "PermanentError" in detail["error_type"]
    assert api.get("/api/dead-letters/0190a5a0-0000-7000-8000-000000000000/").status_code == 404
    assert client_for("jobqueue.view_job").get("/api/dead-letters/").status_code == 403


def test_requeue_with_a_corrected_payload(api, client_for) -> None:
    dead = broken_echo()
    url = f"/api/dead-letters/{dead.pk}/requeue/"
    assert client_for("jobqueue.view_deadletter").post(url, {}, format="json").status_code == 403
    bad = api.post(url, {"payload": {"value": "still"}}, format="json")
    # A well-formed body whose payload conflicts with this dead letter's job type.
    assert bad.status_code == 409
    assert "payload.value" in bad.json()["errors"]
    assert DeadLetter.objects.get(pk=dead.pk).resolution == ""  # nothing re-queued
    response = api.post(url, {"payload": {"value": 2}, "reason": "fixed"}, format="json")
    assert response.status_code == 201
    assert response.json()["payload"] == {"value": 2, "label": ""}
    dead.refresh_from_db()
    assert (dead.resolution, str(dead.requeued_job_id)) == ("requeued", response.json()["id"])
    again = api.post(url, {}, format="json")
    assert again.status_code == 409
    messages = [json.loads(e.change_message) for e in LogEntry.objects.filter(object_id=str(dead.pk)).order_by("pk")]
    assert [m["outcome"].split(" ")[0] for m in messages] == ["re-queued", "refused:"]


def test_bulk_requeue_by_ids_and_by_filter(api) -> None:
    first, second, third = make_dead(3)
    echo_dead = broken_echo()
    response = api.post("/api/dead-letters/requeue/", {"ids": [str(first.pk)], "reason": "r"}, format="json")
    assert response.status_code == 200
    assert response.json()["count"] == 1
    response = api.post("/api/dead-letters/requeue/", {"type": "permanent_failure"}, format="json")
    body = response.json()
    assert body["count"] == 2
    requeued = DeadLetter.objects.filter(pk__in=[second.pk, third.pk]).values_list("requeued_job_id", flat=True)
    assert set(body["ids"]) == {str(pk) for pk in requeued}
    assert body["failed"] == {}
    assert DeadLetter.objects.unresolved().get() == echo_dead
    assert api.post("/api/dead-letters/requeue/", {}, format="json").status_code == 400
    assert api.post("/api/dead-letters/requeue/", {"ids": ["nope"]}, format="json").status_code == 400


def test_discard_needs_a_reason(api, client_for) -> None:
    (dead,) = make_dead(1)
    url = f"/api/dead-letters/{dead.pk}/discard/"
    assert client_for("jobqueue.requeue_deadletter").post(url, {"reason": "x"}, format="json").status_code == 403
    missing = api.post(url, {}, format="json")
    assert missing.status_code == 400
    assert "reason" in missing.json()["errors"]
    response = api.post(url, {"reason": "bad input, cannot be fixed"}, format="json")
    assert response.status_code == 200
    assert (response.json()["resolution"], response.json()["resolved_by"]) == ("discarded", "user:operator")
    assert api.post(url, {"reason": "again"}, format="json").status_code == 409
    entry = LogEntry.objects.filter(object_id=str(dead.pk)).order_by("pk").first()
    assert entry.user == api.user
    assert json.loads(entry.change_message)["reason"] == "bad input, cannot be fixed"


def test_bulk_requeue_reports_what_it_could_not_requeue(api) -> None:
    (dead,) = make_dead(1)
    gone = broken_echo()
    # The echo type's code "disappears": its dead letter cannot run again, the other can.
    from jobqueue.registry import registry

    with registry.scope():
        registry.unregister("echo")
        response = api.post("/api/dead-letters/requeue/", {"ids": [str(dead.pk), str(gone.pk)]}, format="json")
    body = response.json()
    assert (response.status_code, body["count"]) == (200, 1)
    assert list(body["failed"]) == [str(gone.pk)]
    assert "no longer defined" in body["failed"][str(gone.pk)]
    assert DeadLetter.objects.unresolved().get() == gone


def test_requeue_needs_the_job_types_own_permission(client_for) -> None:
    (dead,) = make_dead(1)
    echo = broken_echo()
    # May re-queue dead letters and enqueue permanent_failure, but not echo.
    client = client_for("jobqueue.view_deadletter", "jobqueue.requeue_deadletter", "jobqueue.enqueue_permanent_failure")
    one = client.post(f"/api/dead-letters/{echo.pk}/requeue/", {"reason": "r"}, format="json")
    assert one.status_code == 403
    assert "jobqueue.enqueue_echo" in one.json()["detail"]
    many = client.post(
        "/api/dead-letters/requeue/", {"ids": [str(dead.pk), str(echo.pk)], "reason": "r"}, format="json"
    ).json()
    assert many["count"] == 1
    assert list(many["failed"]) == [str(echo.pk)]
    assert "jobqueue.enqueue_echo" in many["failed"][str(echo.pk)]
    assert DeadLetter.objects.unresolved().get() == echo
    assert not Job.objects.filter(rerun_of=echo.job).exists()
