"""Without the `otel` extra nothing of OpenTelemetry is imported and the queue works as before:
a subprocess whose imports of `opentelemetry` fail (as when it is not installed) enqueues by
every route and runs the jobs. With the extra installed but no provider configured nothing of
it is loaded either (each of a cluster's processes would carry it for nothing). The same
script with a tracer provider configured does load it and stores traces, so the blocked run
proves something where the extra is installed too (as in CI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = """
import json, os, sys

class Absent:
    # Stands in for an environment without the extra: every import of it fails.
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

if os.environ["BLOCK_OTEL"] == "1":
    sys.meta_path.insert(0, Absent())

import django
django.setup()
if os.environ["TRACER_PROVIDER"] == "1":
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    trace.set_tracer_provider(TracerProvider())
from django.core.management import call_command
call_command("migrate", verbosity=0)

from jobqueue import enqueue, enqueue_many, tracing
from jobqueue.models import Job
from jobqueue.testing import drain
from tests.djangotasks import tasks

ids = [str(enqueue("spawn_follow_up", {"value": 1}).pk)]
ids += [str(j.pk) for j in enqueue_many([{"type": "echo", "payload": {"value": 2}}] * 2)]
ids.append(tasks.add.enqueue(1, 2).id)
drain()
jobs = list(Job.objects.values_list("job_type__name", "status", "trace_context"))
print(json.dumps({
    "enqueued": len(ids),
    "jobs": sorted(jobs, key=lambda j: (j[0], j[1], json.dumps(j[2], sort_keys=True))),
    "enabled": tracing.enabled(),
    "loaded": sorted(name for name in sys.modules if name.split(".")[0] == "opentelemetry"),
}))
"""


def run(tmp_path: Path, *, block: bool, provider: bool = False) -> dict:
    name = "blocked" if block else ("provider" if provider else "allowed")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / name}.sqlite3",
        "BLOCK_OTEL": "1" if block else "0",
        "TRACER_PROVIDER": "1" if provider else "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(240)
def test_without_the_extra_nothing_is_imported_and_jobs_run(tmp_path: Path) -> None:
    blocked = run(tmp_path, block=True)
    assert blocked["loaded"] == []
    assert blocked["enabled"] is False
    assert blocked["enqueued"] == 4
    # The four jobs and the follow-up, all run, none carrying a trace.
    assert len(blocked["jobs"]) == 5
    assert {status for _, status, _ in blocked["jobs"]} == {"succeeded"}
    assert [name for name, *_ in blocked["jobs"]].count("echo") == 3
    assert all(context is None for *_, context in blocked["jobs"])

    configured = run(tmp_path, block=False, provider=True)
    assert "opentelemetry.trace" in configured["loaded"]
    assert configured["enabled"] is True
    assert {status for _, status, _ in configured["jobs"]} == {"succeeded"}
    assert all(context for *_, context in configured["jobs"])  # every job carries its trace


@pytest.mark.timeout(240)
def test_with_the_extra_but_no_provider_nothing_of_it_is_loaded(tmp_path: Path) -> None:
    allowed = run(tmp_path, block=False)
    assert allowed["loaded"] == []
    assert allowed["enabled"] is False
    assert len(allowed["jobs"]) == 5
    assert {status for _, status, _ in allowed["jobs"]} == {"succeeded"}
    assert all(context is None for *_, context in allowed["jobs"])
