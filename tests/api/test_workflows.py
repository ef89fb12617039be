"""/api/workflows/ and /api/workflows/{id}/: list, read with jobs and edges, cancel; job permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobqueue import Workflow
from jobqueue.models import Job, Status
from jobqueue.services import prune
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def _three_steps() -> tuple[Workflow, list[Job]]:
    flow = Workflow()
    first = flow.add("step", {"value": 1}, key="first")
    second = flow.add("step", {"value": 2}, key="second", after=[first])
    flow.add("step", {"value": 3}, key="third", after=[second])
    return flow, flow.enqueue()


def test_list_and_read_a_workflow_with_its_jobs_and_edges(api) -> None:
    flow, (first, second, third) = _three_steps()
    listed = api.get("/api/workflows/").json()
    assert [(w["id"], w["jobs"], w["status"]) for w in listed] == [(flow.id, 3, "running")]
    assert listed[0]["counts"] == {"queued": 1, "blocked": 2}
    body = api.get(f"/api/workflows/{flow.id}/").json()
    assert [(j["id"], j["status"], j["after"]) for j in body["job_list"]] == [
        (str(first.pk), "queued", []),
        (str(second.pk), "blocked", [str(first.pk)]),
        (str(third.pk), "blocked", [str(second.pk)]),
    ]
    drain()
    assert api.get(f"/api/workflows/{flow.id}/").json()["status"] == "succeeded"


def test_unknown_or_malformed_workflow_ids_are_404(api) -> None:
    assert api.get("/api/workflows/0190aaaa-0000-7000-8000-000000000000/").status_code == 404
    assert api.get("/api/workflows/not-a-uuid/").status_code == 404
    assert api.post("/api/workflows/not-a-uuid/cancel/", {}, format="json").status_code == 404


def test_cancel_cancels_what_has_not_finished(api) -> None:
    flow, _ = _three_steps()
    response = api.post(f"/api/workflows/{flow.id}/cancel/", {"reason": "wrong DAO"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"cancelled": 3, "cancel_requested": 0}
    assert set(Job.objects.filter(workflow_id=flow.id).values_list("status", flat=True)) == {Status.CANCELLED}
    assert api.get(f"/api/workflows/{flow.id}/").json()["status"] == "failed"


def test_the_same_permissions_as_jobs(client_for) -> None:
    flow, _ = _three_steps()
    nobody = client_for()
    assert nobody.get("/api/workflows/").status_code == 403
    viewer = client_for("jobqueue.view_job")
    assert viewer.get(f"/api/workflows/{flow.id}/").status_code == 200
    assert viewer.post(f"/api/workflows/{flow.id}/cancel/", {}, format="json").status_code == 403
    canceller = client_for("jobqueue.view_job", "jobqueue.cancel_job")
    assert canceller.post(f"/api/workflows/{flow.id}/cancel/", {}, format="json").status_code == 200


def test_retention_keeps_a_workflow_whole_while_a_job_of_it_waits() -> None:
    flow = Workflow()
    done = flow.add("step", {}, key="done")
    flow.add("step", {}, key="waits", after=[done, flow.add("step", {}, key="later", delay=3600)])
    flow.enqueue()
    drain()
    assert Job.objects.get(pk=done.job.pk).status == Status.SUCCEEDED
    prune(now=timezone.now() + timedelta(days=400))
    assert Job.objects.filter(workflow_id=flow.id).count() == 3  # "waits" still needs done's result
