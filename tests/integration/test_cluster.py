"""Real `manage.py qcluster` subprocesses against the test database (SQLite or PostgreSQL)."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from jobqueue import enqueue, enqueue_many
from jobqueue.models import Attempt, DeadLetter, Job, Outcome, Status
from tests.conftest import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


def read_ledger(path: Path) -> list[tuple[str, str, str, float, int]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        event, tag, job_id, at, pid = line.split()
        rows.append((event, tag, job_id, float(at), int(pid)))
    return rows


def jobs():
    # Built-in schedules (jobqueue_prune every 10 min, the deployment's hourly monitor) may
    # fire when a test crosses their slot: count only the jobs the test made.
    return Job.objects.exclude(created_by="schedule")


def attempts():
    return Attempt.objects.exclude(job__created_by="schedule")


def statuses() -> Counter:
    return Counter(jobs().values_list("status", flat=True))


def test_jobs_run_through_a_real_cluster(start_cluster) -> None:
    enqueued = [enqueue("echo", {"value": i}) for i in range(20)]
    cluster = start_cluster()
    wait_for(lambda: statuses() == {"succeeded": 20}, message=f"not all succeeded: {statuses()}")
    assert {a.outcome for a in attempts().all()} == {Outcome.SUCCEEDED}
    assert jobs().get(pk=enqueued[3].pk).result["data"]["value"] == 3
    assert cluster.stop() == 0


def test_a_high_priority_job_overtakes_a_backlog(start_cluster, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    for i in range(40):
        enqueue("record", {"ledger": str(ledger), "tag": f"low{i}", "sleep": 0.1}, priority=-10)
    start_cluster(workers=1)
    wait_for(lambda: len(read_ledger(ledger)) >= 6)
    started_before = len([r for r in read_ledger(ledger) if r[0] == "start"])
    enqueue("record", {"ledger": str(ledger), "tag": "high", "sleep": 0}, priority=90)
    wait_for(lambda: any(r[1] == "high" for r in read_ledger(ledger)))
    starts = [r[1] for r in read_ledger(ledger) if r[0] == "start"]
    # Only the jobs already claimed (local queue + one batch + the running one) may go first.
    assert starts.index("high") - started_before <= 5, starts
    assert starts.index("high") < 20


def test_concurrency_limit_holds_across_two_clusters(start_cluster, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    for _ in range(12):
        enqueue("limited", {"ledger": str(ledger), "sleep": 0.4})
    start_cluster(workers=2)
    start_cluster(workers=2)
    wait_for(lambda: statuses() == {"succeeded": 12}, timeout=60, message=str(statuses()))
    events = sorted((at, 1 if event == "start" else -1) for event, _, _, at, _ in read_ledger(ledger))
    running, peak = 0, 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2  # never more than the limit, and the limit was actually reached


def test_retries_follow_the_backoff_then_dead_letter(start_cluster, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    job = enqueue("always_fails", {"ledger": str(ledger)})  # 3 attempts, base 1 s, factor 2, no jitter
    start_cluster()
    wait_for(lambda: jobs().get(pk=job.pk).status == Status.DEAD, timeout=30)
    times = [float(line.split()[2]) for line in ledger.read_text().splitlines()]
    assert len(times) == 3
    assert 0.9 <= times[1] - times[0] <= 2.0
    assert 1.9 <= times[2] - times[1] <= 3.0
    recorded = list(attempts().filter(job=job).order_by("number"))
    assert [a.outcome for a in recorded] == [Outcome.FAILED] * 3
    assert all("failure number" in a.error_message for a in recorded)
    assert DeadLetter.objects.get(job=job).reason == "attempts_exhausted"


def test_sigkill_of_a_busy_worker_loses_nothing(start_cluster, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    enqueue_many([{"type": "durable", "payload": {"ledger": str(ledger), "sleep": 0.2}} for _ in range(30)])
    start_cluster(workers=2)

    def running_pid() -> int | None:
        rows = read_ledger(ledger)
        ended = {r[2] for r in rows if r[0] == "end"}
        open_rows = [r for r in rows if r[0] == "start" and r[2] not in ended]
        return open_rows[-1][4] if len(rows) > 6 and open_rows else None

    victim = wait_for(running_pid, timeout=30)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: statuses() == {"succeeded": 30}, timeout=90, message=str(statuses()))
    rows = read_ledger(ledger)
    ends = Counter(r[2] for r in rows if r[0] == "end")
    starts = Counter(r[2] for r in rows if r[0] == "start")
    assert len(ends) == 30  # every job finished
    repeated = [job_id for job_id, n in starts.items() if n > 1]
    assert 1 <= len(repeated) <= 2  # only the killed attempt(s) ran again
    assert attempts().filter(outcome=Outcome.CRASHED).count() == len(repeated)


def test_a_job_that_kills_its_worker_every_time_is_dead_lettered(start_cluster, tmp_path: Path) -> None:
    job = enqueue("suicide", {"ledger": str(tmp_path / "ledger")})
    start_cluster()
    wait_for(lambda: jobs().get(pk=job.pk).status == Status.DEAD, timeout=60)
    assert jobs().get(pk=job.pk).attempts == 3
    assert list(attempts().filter(job=job).values_list("outcome", flat=True)) == [Outcome.CRASHED] * 3
    assert len((tmp_path / "ledger").read_text().splitlines()) == 3


def test_the_hooks_of_a_job_that_kills_its_worker_still_run(start_cluster, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    job = enqueue("doomed", {"ledger": str(ledger)})
    start_cluster()

    def lines() -> list[str]:
        return ledger.read_text().splitlines() if ledger.exists() else []

    wait_for(lambda: "on_dead 2 crashed" in lines(), timeout=60, message=str(lines()))
    assert jobs().get(pk=job.pk).status == Status.DEAD
    assert sorted(line for line in lines() if line.startswith("on_")) == ["on_dead 2 crashed", "on_failure 1 crashed"]
    assert [line.split()[:2] for line in lines() if line.startswith("attempt")] == [["attempt", "1"], ["attempt", "2"]]
    hook_jobs = jobs().filter(job_type__name="jobqueue_hook", created_by=f"job:{job.pk}")
    wait_for(lambda: set(hook_jobs.values_list("status", flat=True)) == {Status.SUCCEEDED}, timeout=30)
    assert hook_jobs.count() == 2


def test_timeout_stops_the_job_and_is_recorded(start_cluster) -> None:
    job = enqueue("sleepy", {"seconds": 10})  # timeout 1 s, 2 attempts
    start_cluster()
    wait_for(lambda: jobs().get(pk=job.pk).status == Status.DEAD, timeout=60)
    outcomes = list(attempts().filter(job=job).values_list("outcome", flat=True))
    assert outcomes == [Outcome.TIMED_OUT] * 2
    durations = list(attempts().filter(job=job).values_list("duration_ms", flat=True))
    assert all(900 <= d <= 5000 for d in durations), durations


def test_sigterm_finishes_running_jobs_and_gives_back_the_rest(start_cluster, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    for _ in range(10):
        enqueue("durable", {"ledger": str(ledger), "sleep": 1.0})
    cluster = start_cluster(workers=1)
    wait_for(lambda: read_ledger(ledger), timeout=30)
    assert cluster.stop(signal.SIGTERM, timeout=30) == 0
    counts = statuses()
    assert counts["running"] == 0
    assert counts["succeeded"] >= 1
    assert counts["succeeded"] + counts["queued"] == 10
    rows = read_ledger(ledger)
    started = {r[2] for r in rows if r[0] == "start"}
    ended = {r[2] for r in rows if r[0] == "end"}
    assert started == ended  # nothing was cut short
    waiting = jobs().filter(status=Status.QUEUED)
    assert set(waiting.values_list("attempts", flat=True)) == {0}  # claimed-but-unstarted cost nothing


@pytest.mark.timeout(600)
def test_two_clusters_never_claim_the_same_job_twice(start_cluster) -> None:
    from jobqueue.models import ClusterHeartbeat

    total = 10_000 if connection.vendor == "postgresql" else 3_000
    start_cluster(workers=2)
    start_cluster(workers=2)
    # Both up before the work arrives: a cluster drains thousands of no-op jobs a second.
    wait_for(lambda: ClusterHeartbeat.objects.filter(stopped_at__isnull=True).count() == 2, timeout=60)
    enqueue_many([{"type": "noop", "payload": {}}] * total)
    wait_for(
        lambda: jobs().filter(status=Status.SUCCEEDED).count() == total,
        timeout=500,
        interval=1,
        message=f"not drained: {statuses()}",
    )
    assert attempts().count() == total
    assert set(jobs().values_list("attempts", flat=True)) == {1}
    assert len(set(attempts().values_list("cluster", flat=True))) == 2  # both took part


def test_an_idle_cluster_starts_a_new_job_at_once_not_at_its_next_poll(start_cluster) -> None:
    """Woken by the enqueue (NOTIFY on PostgreSQL, the doorbell on SQLite), not by its poll,
    which these settings set to 30 seconds."""
    from jobqueue.models import ClusterHeartbeat

    if connection.vendor == "mysql":
        pytest.skip(
            "MariaDB / MySQL have no wake-up (no NOTIFY, no doorbell): an idle cluster claims at its poll (docs/configuration.md)"
        )
    start_cluster(workers=1, DJANGO_SETTINGS_MODULE="tests.settings_slow_poll", Q_POLL="30")
    wait_for(lambda: ClusterHeartbeat.objects.filter(stopped_at__isnull=True).exists(), timeout=60)
    waits = []
    for value in range(3):
        time.sleep(1)  # the cluster idle, in its 30-second wait
        job = enqueue("echo", {"value": value})
        wait_for(lambda j=job: jobs().filter(pk=j.pk, status=Status.SUCCEEDED).exists(), timeout=25)
        stored = jobs().get(pk=job.pk)
        waits.append((stored.started_at - stored.created_at).total_seconds())
    assert max(waits) < 3, waits
