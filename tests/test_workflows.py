"""Jobs that wait for other jobs: blocked, released with the last success, cancelled by a
failure, re-armed by a re-run; the Workflow builder's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobqueue import After, Workflow, enqueue, needs
from jobqueue.engine.dependencies import UnknownDependencyError
from jobqueue.engine.workflow import WorkflowError
from jobqueue.models import Dependency, Job, Status
from jobqueue.services import cancel, rerun
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def _status(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def test_a_job_after_others_waits_blocked_until_the_last_succeeds() -> None:
    first, second = enqueue("step", {"value": 1}), enqueue("step", {"value": 2})
    chord = enqueue("step", {"value": 10}, after=[first, second])
    assert _status(chord) == Status.BLOCKED
    drain()
    stored = Job.objects.get(pk=chord.pk)
    assert stored.status == Status.SUCCEEDED
    assert stored.result["data"] == {"total": 13}  # its own 10 plus its dependencies' results


def test_a_dead_dependency_cancels_its_dependents_naming_it(tmp_path: Path) -> None:
    marker = tmp_path / "fail"
    marker.touch()
    bad = enqueue("step", {"fail_while": str(marker)})
    middle = enqueue("step", {}, after=[bad])
    last = enqueue("step", {}, after=[middle])
    tolerant = enqueue("step", {"value": 5}, after=[After(bad, ignore_failure=True)])
    drain()
    assert _status(bad) == Status.DEAD
    for dependent in (middle, last):
        stored = Job.objects.get(pk=dependent.pk)
        assert stored.status == Status.CANCELLED
    assert f"dependency {bad.pk} (step) ended dead" in Job.objects.get(pk=middle.pk).last_error
    assert f"dependency {middle.pk} (step) ended cancelled" in Job.objects.get(pk=last.pk).last_error
    assert _status(tolerant) == Status.SUCCEEDED


def test_re_running_the_failed_step_re_arms_its_dependents(tmp_path: Path, make_user) -> None:
    marker = tmp_path / "fail"
    marker.touch()
    flow = Workflow()
    top = flow.add("step", {"value": 1})
    bad = flow.add("step", {"value": 2, "fail_while": str(marker)}, after=[top])
    chord = flow.add("step", {"value": 3}, after=[bad])
    flow.add("step", {"value": 4}, after=[chord])
    flow.enqueue()
    drain()
    assert _status(chord.job) == Status.CANCELLED
    marker.unlink()
    again = rerun(Job.objects.get(pk=bad.job.pk), by=make_user(superuser=True))
    assert str(again.workflow_id) == flow.id
    assert _status(chord.job) == Status.BLOCKED
    drain()
    jobs = Job.objects.filter(workflow_id=flow.id)
    assert sorted(jobs.values_list("status", flat=True)) == ["dead"] + ["succeeded"] * 4


def test_an_enqueue_after_finished_jobs_starts_ready_or_cancelled() -> None:
    done = enqueue("step", {})
    drain()
    assert _status(enqueue("step", {}, after=[done])) == Status.QUEUED
    waiting = enqueue("step", {})
    cancel(waiting, by=make_system_user())
    late = enqueue("step", {}, after=[waiting])
    assert _status(late) == Status.CANCELLED


def make_system_user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username="sys", is_superuser=True, is_staff=True)


def test_cancelling_a_blocked_job_cancels_its_dependents() -> None:
    first = enqueue("step", {})
    middle = enqueue("step", {}, after=[first])
    last = enqueue("step", {}, after=[middle])
    cancel(middle, by=make_system_user())
    assert _status(last) == Status.CANCELLED
    drain()
    assert _status(first) == Status.SUCCEEDED


def test_the_builder_refuses_a_cycle_and_writes_nothing() -> None:
    flow = Workflow()
    flow.add("step", {}, key="a", after=["b"])
    flow.add("step", {}, key="b", after=["a"])
    with pytest.raises(WorkflowError, match="cycle: a -> b -> a"):
        flow.enqueue()
    assert Job.objects.count() == 0


def test_the_builder_refuses_unknown_steps_and_jobs_and_writes_nothing() -> None:
    flow = Workflow()
    flow.add("step", {}, key="a")
    flow.add("step", {}, after=["a", "no-such-step"])
    with pytest.raises(UnknownDependencyError, match="no-such-step"):
        flow.enqueue()
    other = Workflow()
    other.add("step", {}, after=[needs("0190aaaa-0000-7000-8000-000000000000", ignore_failure=True)])
    with pytest.raises(UnknownDependencyError, match="no job 0190aaaa"):
        other.enqueue()
    assert Job.objects.count() == 0
    assert Dependency.objects.count() == 0


def test_fan_out_and_fan_in_in_one_workflow() -> None:
    flow = Workflow()
    root = flow.add("step", {"value": 1})
    leaves = [flow.add("step", {"value": 1}, after=[root]) for _ in range(20)]
    chord = flow.add("step", {"value": 0}, after=leaves)
    flow.enqueue()
    assert Job.objects.filter(workflow_id=flow.id, status=Status.BLOCKED).count() == 21
    drain()
    assert Job.objects.get(pk=chord.job.pk).result["data"] == {"total": 40}  # 20 leaves of 1 + root each
