"""The admin's workflow page: the jobs as an SVG graph, each box linking to its job."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from jobqueue import Workflow
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def test_a_workflow_is_drawn_with_each_job_its_status_and_a_link(login: Callable[..., Client]) -> None:
    flow = Workflow()
    root = flow.add("step", {}, key="root")
    leaves = [flow.add("step", {}, key=f"leaf{i}", after=[root]) for i in range(3)]
    chord = flow.add("step", {}, key="chord", after=leaves)
    flow.enqueue()
    client = login()
    body = client.get(reverse("admin:jobqueue_workflow", args=[flow.id])).content.decode()
    assert body.count("<rect") == 5
    assert body.count("<line") == 6  # three leaves after the root, the chord after three leaves
    assert reverse("admin:jobqueue_job_change", args=[chord.job.pk]) in body
    assert "step · blocked" in body
    assert "step · queued" in body
    drain()
    body = client.get(reverse("admin:jobqueue_workflow", args=[flow.id])).content.decode()
    assert body.count("step · succeeded") == 5
    # The job's page links to its workflow.
    job_page = client.get(reverse("admin:jobqueue_job_change", args=[chord.job.pk])).content.decode()
    assert reverse("admin:jobqueue_workflow", args=[flow.id]) in job_page


def test_unknown_workflow_is_404_and_viewing_needs_the_job_permission(login: Callable[..., Client], make_user) -> None:
    assert login().get(reverse("admin:jobqueue_workflow", args=["not-a-uuid"])).status_code == 404
    flow = Workflow()
    flow.add("step", {})
    flow.enqueue()
    outsider = Client()
    outsider.force_login(make_user("staff-without-perms"))
    assert outsider.get(reverse("admin:jobqueue_workflow", args=[flow.id])).status_code == 403
