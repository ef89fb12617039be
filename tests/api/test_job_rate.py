"""Limits that count work: the API's rate counts jobs created (bulk, re-run and re-queue
included), the backlog bound counts delayed jobs, and the counters are shared by processes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from jobqueue import enqueue
from jobqueue.models import DeadLetter, Job
from tests.conftest import ROOT, database_url
from tests.helpers import drain

pytestmark = pytest.mark.django_db

ECHO = {"type": "echo", "payload": {"value": 1}}


def bulk(count: int) -> dict[str, Any]:
    return {"jobs": [ECHO] * count}


@override_settings(JOBQUEUE={"API_ENQUEUE_RATE": "5/minute"})
def test_a_bulk_enqueue_of_n_costs_n(api: Any) -> None:
    assert api.post("/api/jobs/bulk/", bulk(3), format="json").status_code == 201
    refused = api.post("/api/jobs/bulk/", bulk(3), format="json")
    assert refused.status_code == 429
    assert "3 of the 5 allowed per 60 s are used" in refused.json()["detail"]
    assert int(refused["Retry-After"]) > 0
    assert Job.objects.count() == 3  # the refused call created nothing, and spent nothing:
    assert api.post("/api/jobs/bulk/", bulk(2), format="json").status_code == 201
    assert api.post("/api/jobs/", ECHO, format="json").status_code == 429


@override_settings(JOBQUEUE={"API_ENQUEUE_RATE": "5/minute"})
def test_one_request_larger_than_the_rate_says_to_split_it(api: Any) -> None:
    refused = api.post("/api/jobs/bulk/", bulk(6), format="json")
    assert refused.status_code == 429
    assert "split the request" in refused.json()["detail"]
    assert not Job.objects.exists()


@override_settings(JOBQUEUE={"API_ENQUEUE_RATE": "2/minute"})
def test_rerun_is_throttled(api: Any) -> None:
    job = enqueue("echo", {"value": 1})
    drain()
    codes = [api.post(f"/api/jobs/{job.pk}/rerun/", {"reason": "again"}, format="json").status_code for _ in range(3)]
    assert codes == [201, 201, 429]


@override_settings(JOBQUEUE={"API_ENQUEUE_RATE": "2/minute"})
def test_requeue_is_throttled_one_and_many(api: Any) -> None:
    for _ in range(4):
        enqueue("permanent_failure", {})
    drain()
    letters = list(DeadLetter.objects.order_by("created_at"))
    assert api.post(f"/api/dead-letters/{letters[0].pk}/requeue/", {"reason": "r"}, format="json").status_code == 201
    many = api.post("/api/dead-letters/requeue/", {"type": "permanent_failure", "reason": "r"}, format="json")
    assert many.status_code == 429  # three more jobs, one left in the budget
    assert DeadLetter.objects.unresolved().count() == 3


@override_settings(JOBQUEUE={"API_MAX_READY_PER_TYPE": 2})
def test_the_backlog_bound_counts_delayed_jobs(api: Any) -> None:
    later = timezone.now() + timedelta(hours=1)
    enqueue("echo", {"value": 1}, run_after=later)
    enqueue("echo", {"value": 2}, run_after=later)
    refused = api.post("/api/jobs/", ECHO, format="json")
    assert refused.status_code == 503
    assert "delayed ones included" in refused.json()["detail"]
    job = Job.objects.first()
    assert job is not None
    assert api.post(f"/api/jobs/{job.pk}/rerun/", {"reason": "r"}, format="json").status_code in (409, 503)


@pytest.mark.django_db(transaction=True)
@override_settings(JOBQUEUE={"API_ENQUEUE_RATE": "3/minute"})
def test_the_budget_is_shared_by_every_process(api: Any) -> None:
    # Another process of the deployment (a second gunicorn worker) sees the same counters.
    assert api.post("/api/jobs/bulk/", bulk(3), format="json").status_code == 201
    script = (
        "import django; django.setup()\n"
        "from types import SimpleNamespace\n"
        "from django.test import override_settings\n"
        "from rest_framework.exceptions import Throttled\n"
        "from jobqueue.api.throttling import spend\n"
        f"request = SimpleNamespace(user=SimpleNamespace(pk={api.user.pk}), META={{}})\n"
        "with override_settings(JOBQUEUE={'API_ENQUEUE_RATE': '3/minute'}):\n"
        "    try:\n"
        "        spend(request, 1)\n"
        "        print('allowed')\n"
        "    except Throttled as exc:\n"
        "        print('throttled', exc.detail)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url()}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.startswith("throttled"), done.stdout + done.stderr
