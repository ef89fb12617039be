"""The fault suite's stage: one throwaway PostgreSQL server for the session, a fresh migrated
database per test, real clusters (and web servers) against it, all stopped at the end, on
failure too. PostgreSQL only: the faults are a server restart and its connection limit."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.conftest import ROOT, ClusterProcess, wait_for
from tests.faults.server import ThrowawayServer, unavailable_reason
from tests.faults.settings import FAULT_TIMEOUT
from tests.processes import descendants, running

SETTINGS = "tests.faults.settings"
TEMPLATE = "faults_template"
_numbers = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ThrowawayServer]:
    if connection.vendor != "postgresql":
        pytest.skip(
            "the fault suite is PostgreSQL-specific (it restarts and exhausts a PostgreSQL server); it runs on the PostgreSQL leg"
        )
    reason = unavailable_reason()
    if reason:
        pytest.fail(f"the fault suite needs a throwaway PostgreSQL server: {reason}")
    server = ThrowawayServer()
    try:
        server.start()
        server.create_database(TEMPLATE)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": server.url(TEMPLATE)}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
        yield server
    finally:
        server.stop()


def short_timeouts() -> dict[str, str]:
    """Environment pins of every job type's timeout to FAULT_TIMEOUT, and the suite's settings:
    a lost cluster's claims then come back within seconds."""
    from jobqueue.registry import registry

    pins = {f"JOBQUEUE_{d.name.upper()}_TIMEOUT": str(FAULT_TIMEOUT) for d in registry}
    return {**pins, "DJANGO_SETTINGS_MODULE": SETTINGS}


def cluster_env(url: str, short: bool = True) -> dict[str, str]:
    """The environment of the suite's subprocesses (with the test settings' own timeouts
    when not `short`)."""
    return {
        **os.environ,
        **(short_timeouts() if short else {"DJANGO_SETTINGS_MODULE": "tests.settings"}),
        "DATABASE_URL": url,
        "Q_WORKERS": "2",
        "Q_LOG_LEVEL": "INFO",
        "JOBQUEUE_JOBQUEUE_ROLLUP_SCHEDULE": "off",
        "JOBQUEUE_JOBQUEUE_PRUNE_SCHEDULE": "off",
    }


@dataclass
class Tally:
    """One job type's jobs and attempts in the throwaway database, and its ledger."""

    statuses: Counter[str]
    attempts: dict[str, list[str]]  # job id -> outcomes of its attempts
    starts: Counter[str]  # job id -> executions the ledger saw begin
    last_finish: float | None  # epoch seconds

    def check(self, expected: int, cut_limit: int) -> None:
        """Zero jobs lost, each succeeded once, and a re-run only for an attempt a fault cut."""
        assert self.statuses == {"succeeded": expected}, self.statuses
        cut = 0
        for job_id, outcomes in self.attempts.items():
            assert outcomes.count("succeeded") == 1, (job_id, outcomes)
            assert set(outcomes) <= {"succeeded", "crashed", "timed_out"}, (job_id, outcomes)
            cut += len(outcomes) - 1
            # An execution the database never heard of would be a hidden duplicate.
            assert self.starts[job_id] <= len(outcomes), (job_id, outcomes, self.starts[job_id])
        assert cut <= cut_limit, f"{cut} attempts re-run, at most {cut_limit} were cut by the fault"


class FaultStage:
    """A fresh database on the throwaway server, and the processes started against it."""

    def __init__(self, server: ThrowawayServer, tmp_path: Path) -> None:
        self.server = server
        self.tmp_path = tmp_path
        self.name = f"fault_{os.getpid()}_{next(_numbers)}"
        server.create_database(self.name, template=TEMPLATE)
        self.url = server.url(self.name)
        self.env = cluster_env(self.url)
        self.ledger = tmp_path / "ledger"
        self.clusters: list[ClusterProcess] = []
        self.pids: set[int] = set()  # every process seen in a cluster, killed at the end if alive
        self.others: list[subprocess.Popen[Any]] = []

    def start_cluster(self, workers: int = 2) -> ClusterProcess:
        cluster = ClusterProcess(
            self.tmp_path / f"cluster-{len(self.clusters)}.log", {**self.env, "Q_WORKERS": str(workers)}
        )
        self.clusters.append(cluster)
        wait_for(
            lambda: "running." in cluster.output() or cluster.proc.poll() is not None, timeout=60, message="no start"
        )
        assert cluster.proc.poll() is None, f"qcluster did not start:\n{cluster.output()}"
        self.pids.update([cluster.proc.pid, *descendants(cluster.proc.pid)])
        return cluster

    def family(self, cluster: ClusterProcess) -> list[int]:
        pids = descendants(cluster.proc.pid)
        self.pids.update(pids)
        return pids

    def enqueue(self, type_name: str, count: int, **payload: Any) -> None:
        subprocess.run(
            [sys.executable, "-m", "tests.faults.driver", "enqueue", type_name, str(count), json.dumps(payload)],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=120,
        )

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.server.connect(self.name) as conn:
            return conn.execute(sql, params).fetchall()

    def tally(self, type_name: str) -> Tally:
        jobs = self.query(
            "SELECT j.id::text, j.status, extract(epoch FROM j.finished_at) FROM jobqueue_job j "
            "JOIN jobqueue_jobtype t ON t.id = j.job_type_id WHERE t.name = %s",
            type_name,
        )
        attempts: dict[str, list[str]] = {job_id: [] for job_id, _, _ in jobs}
        for job_id, outcome in self.query(
            "SELECT a.job_id::text, a.outcome FROM jobqueue_attempt a JOIN jobqueue_job j ON j.id = a.job_id "
            "JOIN jobqueue_jobtype t ON t.id = j.job_type_id WHERE t.name = %s ORDER BY a.number",
            type_name,
        ):
            attempts[job_id].append(outcome)
        starts: Counter[str] = Counter()
        if self.ledger.exists():
            starts.update(line.split()[2] for line in self.ledger.read_text().splitlines() if line.startswith("start"))
        finishes = [float(f) for _, _, f in jobs if f is not None]
        return Tally(Counter(s for _, s, _ in jobs), attempts, starts, max(finishes, default=None))

    def count(self, type_name: str, status: str) -> int:
        return int(
            self.query(
                "SELECT count(*) FROM jobqueue_job j JOIN jobqueue_jobtype t ON t.id = j.job_type_id "
                "WHERE t.name = %s AND j.status = %s",
                type_name,
                status,
            )[0][0]
        )

    def close(self) -> None:
        for cluster in self.clusters:
            cluster.stop(timeout=15)
        for proc in self.others:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for pid in self.pids:
            if running(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.server.drop_database(self.name)


@pytest.fixture
def stage(pg_server: ThrowawayServer, tmp_path: Path) -> Iterator[FaultStage]:
    fault_stage = FaultStage(pg_server, tmp_path)
    try:
        yield fault_stage
    finally:
        fault_stage.close()


def wait_gone(pids: list[int], timeout: float) -> float:
    """Seconds until none of `pids` runs; fails after `timeout`."""
    started = time.monotonic()
    wait_for(
        lambda: not [p for p in pids if running(p)],
        timeout=timeout,
        interval=0.05,
        message=f"still running {timeout} s later: {[p for p in pids if running(p)]}",
    )
    return time.monotonic() - started
