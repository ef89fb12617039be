"""A workflow through real clusters: fan-out 100, fan-in 1, then 1; a failed middle step
cancels what follows it, and re-running that step completes the workflow."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobqueue import Workflow
from jobqueue.models import Job, Status
from jobqueue.services import rerun
from tests.conftest import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


def test_three_levels_run_in_order_and_a_rerun_completes_them(start_cluster, tmp_path: Path, make_user) -> None:
    ledger, marker = tmp_path / "ledger", tmp_path / "fail"
    marker.touch()
    flow = Workflow()
    root = flow.add("step", {"ledger": str(ledger), "tag": "root", "value": 1})
    middle = [
        flow.add("step", {"ledger": str(ledger), "tag": f"m{i}", "value": 1}, after=[root], key=f"m{i}")
        for i in range(99)
    ]
    bad = flow.add(
        "step", {"ledger": str(ledger), "tag": "bad", "value": 1, "fail_while": str(marker)}, after=[root], key="bad"
    )
    chord = flow.add("step", {"ledger": str(ledger), "tag": "chord"}, after=[*middle, bad])
    last = flow.add("step", {"ledger": str(ledger), "tag": "last"}, after=[chord])
    flow.enqueue()
    start_cluster(workers=2)
    start_cluster(workers=2)
    jobs = Job.objects.filter(workflow_id=flow.id)
    wait_for(lambda: jobs.filter(status=Status.CANCELLED).count() == 2, timeout=90)
    assert Job.objects.get(pk=bad.job.pk).status == Status.DEAD
    assert jobs.filter(status=Status.SUCCEEDED).count() == 100
    assert Job.objects.get(pk=chord.job.pk).last_error == f"dependency {bad.job.pk} (step) ended dead"
    assert Job.objects.get(pk=last.job.pk).last_error == f"dependency {chord.job.pk} (step) ended cancelled"

    marker.unlink()
    again = rerun(Job.objects.get(pk=bad.job.pk), by=make_user("op", superuser=True))
    wait_for(lambda: Job.objects.get(pk=last.job.pk).status == Status.SUCCEEDED, timeout=60)
    assert Job.objects.get(pk=chord.job.pk).result["data"] == {"total": 200}  # 100 middles of 1 + root's 1

    starts = {line.split()[2]: float(line.split()[3]) for line in ledger.read_text().splitlines()}
    ended = {str(j.pk): j.finished_at for j in jobs}

    def began(job: Job) -> datetime:
        return datetime.fromtimestamp(starts[str(job.pk)], tz=UTC)

    # Each job started only after every job it waited for had ended, in the right order.
    for step in middle:
        assert began(step.job) >= ended[str(root.job.pk)]
    assert began(again) >= ended[str(root.job.pk)]
    assert began(chord.job) >= max(ended[str(s.job.pk)] for s in middle)
    assert began(chord.job) >= Job.objects.get(pk=again.pk).finished_at
    assert began(last.job) >= Job.objects.get(pk=chord.job.pk).finished_at
