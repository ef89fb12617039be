"""A unit's group commit: each job's decision written under its own claim, the jobs of a unit
in one statement on PostgreSQL and SQLite (one per job on MariaDB), a lost claim left out."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobqueue import enqueue, enqueue_many
from jobqueue.config.effective import type_state
from jobqueue.engine import claim as engine_claim
from jobqueue.engine import transitions
from jobqueue.engine.pipeline import run_unit
from jobqueue.engine.recorder import Recorder
from jobqueue.engine.units import JobSnapshot, Unit
from jobqueue.models import Attempt, Job, Outcome, Status
from tests.helpers import CLUSTER

pytestmark = pytest.mark.django_db


def _started_unit(size: int) -> tuple[Unit, list[JobSnapshot]]:
    enqueue_many([{"type": "always_fails"}] * size)
    (unit,) = engine_claim.claim(1, CLUSTER, lambda state: size)
    snapshots = transitions.start_unit(unit.claims, worker="w:1", timeout=unit.timeout)
    assert len(snapshots) == size
    return unit, snapshots


def test_a_group_commit_writes_each_decision_and_leaves_out_a_lost_claim() -> None:
    unit, (won, retried, stolen, progressed) = _started_unit(4)
    Job.objects.filter(pk=stolen.id).update(claimed_by="another-cluster")
    recorder = Recorder(unit, type_state("always_fails").config, "w:1")
    for snapshot in (won, retried, stolen, progressed):
        report = recorder.report()
        if snapshot is retried:
            report.fail(RuntimeError("flaky"), type_state("always_fails").definition)
        else:
            report.outcome, report.result = Outcome.SUCCEEDED, {"job": snapshot.id}
            report.progress = 0.5 if snapshot is progressed else None
        recorder.decided(snapshot, report, None)
    with CaptureQueriesContext(connection) as queries:
        recorded = recorder.flush()

    assert {e.job_id for e in recorded} == {won.id, retried.id, progressed.id}
    rows = {str(j.pk): j for j in Job.objects.all()}
    assert rows[won.id].status == Status.SUCCEEDED
    assert rows[won.id].result == {"job": won.id}
    assert rows[won.id].finished_at is not None
    assert (rows[won.id].claimed_by, rows[won.id].worker, rows[won.id].lease_expires_at) == ("", "", None)
    assert rows[progressed.id].progress == 0.5
    assert rows[retried.id].status == Status.RETRYING
    assert rows[retried.id].last_error == "RuntimeError: flaky"
    assert rows[retried.id].finished_at is None
    assert rows[retried.id].run_after > rows[retried.id].claimed_at
    # The job another cluster took over is untouched, and has no attempt of ours.
    assert (rows[stolen.id].status, rows[stolen.id].claimed_by) == (Status.RUNNING, "another-cluster")
    assert set(Attempt.objects.values_list("job_id", flat=True)) == {
        rows[won.id].pk,
        rows[retried.id].pk,
        rows[progressed.id].pk,
    }
    finishes = [q for q in queries if q["sql"].startswith("UPDATE") and "jobqueue_job" in q["sql"]]
    assert len(finishes) == (4 if connection.vendor == "mysql" else 1)
    # Nothing waits for these jobs: one probe of the dependency index, not resolve()'s joins.
    assert [q for q in queries if "jobqueue_dependency" in q["sql"] and "JOIN" in q["sql"]] == []


def test_a_refunded_attempt_adds_to_the_jobs_budget_in_a_group() -> None:
    unit, snapshots = _started_unit(2)
    recorder = Recorder(unit, type_state("always_fails").config, "w:1")
    for snapshot in snapshots:
        report = recorder.report()
        report.outcome = Outcome.SUCCEEDED
        if snapshot is snapshots[0]:
            report.outcome, report.snooze_for = Outcome.SNOOZED, 60.0
        recorder.decided(snapshot, report, None)
    assert len(recorder.flush()) == 2
    snoozed, done = (Job.objects.get(pk=s.id) for s in snapshots)
    assert (snoozed.status, snoozed.max_attempts) == (Status.SCHEDULED, 4)
    assert (done.status, done.max_attempts) == (Status.SUCCEEDED, 3)


def test_a_chunk_that_fits_its_budget_is_recorded_in_one_commit_at_its_end(settings: Any) -> None:
    # Ten jobs of 3 ms: past FLUSH_INTERVAL_MS (10 ms) three times, well within the budget (a
    # long one, so that a loaded machine's slow sleeps do not run the chunk over it).
    settings.JOBQUEUE = {**settings.JOBQUEUE, "CHUNK_BUDGET_MS": 2000}
    enqueue_many([{"type": "short", "payload": {"ms": 3}}] * 10)
    (unit,) = engine_claim.claim(1, CLUSTER, lambda state: 10)
    with CaptureQueriesContext(connection) as queries:
        assert run_unit(unit) == "recorded"
    assert Job.objects.filter(status=Status.SUCCEEDED).count() == 10
    inserts = [q for q in queries if q["sql"].startswith("INSERT") and "jobqueue_attempt" in q["sql"]]
    assert len(inserts) == 1


def _decide_first(unit: Unit, snapshots: list[JobSnapshot]) -> Recorder:
    recorder = Recorder(unit, type_state("always_fails").config, "w:1")
    report = recorder.report()
    report.outcome = Outcome.SUCCEEDED
    recorder.decided(snapshots[0], report, None)
    return recorder


def test_a_chunk_commits_at_its_end_unless_a_job_waits_for_one_of_its_jobs(settings: Any) -> None:
    # A chunk sized to its budget commits once, at its end; but a workflow's next step becomes
    # ready only when its dependency's success is committed, so a chunk holding a job that
    # another waits for commits at the group-commit interval, as async units do.
    settings.JOBQUEUE = {**settings.JOBQUEUE, "FLUSH_INTERVAL_MS": 0, "CHUNK_BUDGET_MS": 60_000}
    plain, plain_snapshots = _started_unit(2)
    assert not _decide_first(plain, plain_snapshots).due()
    Job.objects.all().delete()

    upstream = enqueue("always_fails")
    enqueue("always_fails", after=[upstream])
    enqueue("always_fails")
    (unit,) = engine_claim.claim(1, CLUSTER, lambda state: 2)
    snapshots = transitions.start_unit(unit.claims, worker="w:1", timeout=unit.timeout)
    assert str(upstream.pk) in {s.id for s in snapshots}
    assert len(snapshots) == 2
    assert _decide_first(unit, snapshots).due()
