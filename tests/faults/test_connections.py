"""The database out of connections: the API answers 503 with Retry-After (never a 500), health
says why, and once connections are free again a burst of concurrent enqueues all succeed,
within the web process's bounded pool."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import ROOT, wait_for
from tests.faults.conftest import FaultStage
from tests.faults.server import free_port

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

POOL_SIZE = 4


def start_web(stage: FaultStage) -> str:
    port = free_port()
    log = (stage.tmp_path / "web.log").open("wb")
    env = {**stage.env, "DATABASE_POOL_SIZE": str(POOL_SIZE), "DATABASE_POOL_TIMEOUT": "2", "DEBUG": "false"}
    stage.others.append(
        subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    )
    log.close()

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, timeout=30, message="the web server did not start")
    return f"http://127.0.0.1:{port}"


def api_token(stage: FaultStage) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "tests.faults.driver", "token"], cwd=ROOT, env=stage.env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def fill(stage: FaultStage, held: list[psycopg.Connection]) -> None:
    """Open connections until the server refuses one ("too many clients")."""
    for _ in range(stage.server.max_connections + 10):
        try:
            held.append(stage.server.connect(stage.name))
        except psycopg.OperationalError as exc:
            if "too many clients" not in str(exc) and "remaining connection slots" not in str(exc):
                raise
            return
    raise AssertionError("the server never refused a connection")


def hold_every_connection(stage: FaultStage) -> list[psycopg.Connection]:
    """Every connection slot of the server, the web process's pooled ones included: those are
    cut (as a server restart or an idle timeout would) and their slots taken too."""
    held: list[psycopg.Connection] = []
    try:
        fill(stage, held)
        ours = [conn.info.backend_pid for conn in held]
        held[0].execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND NOT pid = ANY(%s)",
            [ours],
        )
        count = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        wait_for(lambda: held[0].execute(count).fetchall() == [(len(ours),)], timeout=10)
        fill(stage, held)
    except BaseException:
        for conn in held:
            conn.close()
        raise
    return held


def enqueue(client: httpx.Client, value: int) -> int:
    return client.post("/api/jobs/", json={"type": "echo", "payload": {"value": value}}).status_code


def test_out_of_connections_answers_503_never_500(stage: FaultStage) -> None:
    base = start_web(stage)
    token = api_token(stage)
    headers = {"Authorization": f"Bearer {token}"}
    held = hold_every_connection(stage)
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for method, path, body in [
                ("POST", "/api/jobs/", {"type": "echo", "payload": {"value": 0}}),
                ("GET", "/api/jobs/", None),
            ]:
                response = client.request(method, path, json=body)
                assert response.status_code == 503, (path, response.status_code, response.text)
                assert int(response.headers["Retry-After"]) > 0
                assert response.headers["Content-Type"] == "application/json"
                assert "database is unavailable" in response.json()["detail"]
            health = client.get("/api/health/")
            assert health.status_code == 503
            assert health.json()["status"] == "unhealthy"
            assert [c["rule"] for c in health.json()["checks"]] == ["database"]
            assert "Retry-After" in health.headers
    finally:
        for conn in held:
            conn.close()

    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        wait_for(lambda: enqueue(client, -1) == 201, timeout=30, interval=0.5, message="the API did not recover")

    def burst(thread: int) -> list[int]:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            return [enqueue(client, thread * 1000 + i) for i in range(40)]

    with ThreadPoolExecutor(8) as pool:
        codes = Counter(code for codes in pool.map(burst, range(8)) for code in codes)
    assert codes == {201: 320}, codes
    # The web process never held more connections than its pool allows.
    web: Any = stage.query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", stage.name
    )[0][0]
    assert web <= POOL_SIZE, web

    stage.start_cluster()
    wait_for(lambda: stage.count("echo", "succeeded") == 321, timeout=60, message=str(stage.tally("echo").statuses))
    stage.tally("echo").check(321, cut_limit=0)
