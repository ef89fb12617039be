"""End to end over HTTP: enqueue against a live server, a real qcluster runs the job, and the
finished job and its attempts are read back over HTTP."""

from __future__ import annotations

import httpx
import pytest

from jobqueue.services.tokens import create_token
from tests.api.conftest import EVERYTHING
from tests.conftest import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_enqueue_over_http_then_read_the_finished_job(live_server, start_cluster, make_user) -> None:
    user = make_user("e2e", *EVERYTHING)
    headers = {"Authorization": f"Bearer {create_token(user, 'e2e').secret}"}
    start_cluster(workers=1)
    with httpx.Client(base_url=f"{live_server.url}/api", headers=headers, timeout=10) as http:
        created = http.post("/jobs/", json={"type": "echo", "payload": {"value": 42, "label": "over http"}})
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]

        def finished() -> dict | None:
            body = http.get(f"/jobs/{job_id}/").json()
            return body if body["status"] == "succeeded" else None

        job = wait_for(finished, timeout=60, interval=0.2, message="the job did not finish over HTTP")
        assert job["result"]["data"] == {"value": 42, "label": "over http"}
        (attempt,) = job["attempts"]
        assert attempt["outcome"] == "succeeded"
        assert attempt["worker"]
        assert attempt["duration_ms"] is not None
        assert any("echo 42" in str(line) for line in attempt["logs"])
        listed = http.get("/jobs/", params={"status": "succeeded", "type": "echo"}).json()["results"]
        assert [row["id"] for row in listed] == [job_id]
