"""The claim: priority, FIFO, pause, concurrency, leases, reclaim, release; and the package."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.signing import SignedPackage

from jobqueue import enqueue
from jobqueue.djangoq.broker import JobBroker, package
from jobqueue.engine import transitions
from jobqueue.engine.claim import claim as engine_claim
from jobqueue.engine.pipeline import run_unit
from jobqueue.engine.reclaim import reclaim_lost
from jobqueue.engine.units import Claim
from jobqueue.exceptions import JobQueueError
from jobqueue.models import Attempt, DeadLetter, Job, JobType, Outcome, Status
from jobqueue.services import update_job_type
from tests.helpers import CLUSTER, claim

pytestmark = pytest.mark.django_db


def test_highest_priority_first_then_oldest_first() -> None:
    low = [enqueue("echo", {"value": i}, priority=-10) for i in range(3)]
    high = enqueue("echo", {"value": 99}, priority=50)
    mid = [enqueue("echo", {"value": i}) for i in range(2)]
    order = [c.jobs[0][0] for c in claim(10, CLUSTER)]
    assert order == [str(j.pk) for j in [high, *mid, *low]]


def test_claim_counts_the_attempt_and_sets_a_lease() -> None:
    job = enqueue("echo", {"value": 1})
    (claimed,) = claim(5, CLUSTER)
    stored = Job.objects.get(pk=job.pk)
    assert (claimed.jobs[0][1], stored.attempts, stored.status) == (1, 1, Status.RUNNING)
    assert stored.claimed_by == CLUSTER
    assert stored.lease_expires_at > timezone.now()
    assert claim(5, CLUSTER) == []  # never claimed twice


def test_future_jobs_wait_and_disabled_types_pause() -> None:
    enqueue("echo", {"value": 1}, delay=3600)
    enqueue("typed_settings", {"text": "paused"})  # disabled in code
    assert claim(10, CLUSTER) == []
    update_job_type(JobType.objects.get(name="typed_settings"), {"enabled": True})
    assert [c.type_name for c in claim(10, CLUSTER)] == ["typed_settings"]


def test_concurrency_limit_counts_running_jobs() -> None:
    for _ in range(5):
        enqueue("limited", {"ledger": "/dev/null"})
    enqueue("echo", {"value": 1}, priority=-50)
    first = claim(10, CLUSTER)
    assert sorted(c.type_name for c in first) == ["echo", "limited", "limited"]
    assert claim(10, CLUSTER) == []  # both slots taken
    limited = [c for c in first if c.type_name == "limited"]
    run_unit(limited[0])
    assert [c.type_name for c in claim(10, CLUSTER)] == ["limited"]


def test_jobs_of_a_type_gone_from_code_are_never_claimed() -> None:
    from jobqueue.registry import registry
    from jobqueue.services import sync_job_types

    job = enqueue("echo", {"value": 1})
    with registry.scope():
        registry.unregister("echo")
        assert sync_job_types().orphaned == ["echo"]
        assert claim(10, CLUSTER) == []
    assert Job.objects.get(pk=job.pk).status == Status.QUEUED


def test_expired_lease_is_reclaimed_and_retried_then_dead_lettered() -> None:
    job = enqueue("suicide", {})  # max_attempts 3, backoff 0.2 s
    for attempt in (1, 2, 3):
        Job.objects.filter(pk=job.pk).update(run_after=timezone.now())
        (claimed,) = claim(1, CLUSTER)
        assert claimed.jobs[0][1] == attempt
        transitions.start_unit([Claim(claimed.jobs[0][0], attempt, CLUSTER)], worker="h:1", timeout=20)
        Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        assert len(reclaim_lost()) == 1
    stored = Job.objects.get(pk=job.pk)
    assert stored.status == Status.DEAD
    assert list(Attempt.objects.filter(job=job).values_list("outcome", flat=True)) == [Outcome.CRASHED] * 3
    assert DeadLetter.objects.get(job=job).reason == "attempts_exhausted"


def test_dead_local_worker_is_found_by_pid_before_the_lease_expires() -> None:
    job = enqueue("echo", {"value": 1})
    (claimed,) = claim(1, CLUSTER)
    transitions.start_unit([Claim(claimed.jobs[0][0], 1, CLUSTER)], worker="here:4242", timeout=600)
    assert len(reclaim_lost(cluster=CLUSTER, host="here", is_alive=lambda pid: pid != 4242)) == 1
    stored = Job.objects.get(pk=job.pk)
    assert stored.status == Status.DEAD  # echo allows one attempt
    assert Attempt.objects.get(job=job).outcome == Outcome.CRASHED


def test_release_gives_the_attempt_back() -> None:
    job = enqueue("echo", {"value": 1})
    (claimed,) = claim(1, CLUSTER)
    assert transitions.release(Claim(claimed.jobs[0][0], 1, CLUSTER))
    stored = Job.objects.get(pk=job.pk)
    assert (stored.status, stored.attempts, stored.claimed_by) == (Status.QUEUED, 0, "")


def test_package_names_only_the_runner_and_the_claim() -> None:
    enqueue("echo", {"value": 123456789})
    (claimed,) = claim(1, CLUSTER)
    signed = SignedPackage.dumps(package(claimed))
    unpacked = SignedPackage.loads(signed)
    assert unpacked["func"].__module__ == "jobqueue.djangoq.entry"
    assert unpacked["args"] == ("echo", "sync", ((claimed.jobs[0][0], 1),), CLUSTER, claimed.timeout, 0)
    assert unpacked["save"] is False
    assert "123456789" not in repr(unpacked)  # no user data travels through django-q2


def test_broker_dequeue_and_sizes_report_real_figures() -> None:
    broker = JobBroker(list_key="test")
    for i in range(3):
        enqueue("echo", {"value": i})
    assert broker.queue_size() == 3
    packages = broker.dequeue()
    assert packages
    assert broker.lock_size() == len(packages)
    with pytest.raises(JobQueueError, match=r"jobqueue\.enqueue"):
        broker.enqueue("anything")


def test_dequeue_records_a_heartbeat_and_marks_stopping() -> None:
    from jobqueue.engine import shutdown
    from jobqueue.models import ClusterHeartbeat

    broker = JobBroker(list_key="test")
    enqueue("echo", {"value": 1})
    broker.dequeue()
    beat = ClusterHeartbeat.objects.get(key=broker.cluster_key)
    assert (beat.claimed, beat.stopped_at) == (1, None)
    shutdown.install()
    shutdown.request()
    try:
        assert broker.dequeue() is None
    finally:
        shutdown.install()  # a fresh, unset flag for the other tests
    assert ClusterHeartbeat.objects.get(key=broker.cluster_key).stopped_at is not None


def test_claims_wait_for_room_and_unstarted_claims_keep_their_lease() -> None:
    from django_q.conf import Conf

    broker = JobBroker(list_key="test")
    for i in range(10):
        enqueue("echo", {"value": i})
    held = 0
    while packages := broker.dequeue():
        held += len(packages)
    assert held == int(Conf.WORKERS) + int(Conf.QUEUE_LIMIT)  # free workers plus the local queue
    Job.objects.filter(status=Status.RUNNING).update(lease_expires_at=timezone.now())
    assert len(transitions.renew_held(broker.cluster_key, list(broker.producer.claimer.held))) == held
    assert not Job.objects.filter(status=Status.RUNNING, lease_expires_at__lte=timezone.now()).exists()


def test_a_claim_no_worker_started_goes_back_unspent_once_its_lease_expires() -> None:
    from datetime import timedelta

    job = enqueue("echo", {"value": 1})
    assert len(claim(1, "lost-cluster")) == 1
    stored = Job.objects.get(pk=job.pk)
    # A claim's own lease is short (LEASE_GRACE): its cluster renews it while it holds the claim.
    assert stored.lease_expires_at <= timezone.now() + timedelta(seconds=3)
    # Its cluster was lost (or the unit never reached a worker): the lease runs out.
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert len(reclaim_lost()) == 1
    stored = Job.objects.get(pk=job.pk)
    assert (stored.status, stored.attempts, stored.claimed_by) == (Status.QUEUED, 0, "")  # never ran: unspent
    assert not Attempt.objects.filter(job=job).exists()
    assert "no worker started it" in stored.last_error


def test_a_units_start_and_give_back_touch_only_the_jobs_still_held_under_the_claims_given() -> None:
    jobs = [enqueue("echo", {"value": n}) for n in range(4)]
    (unit,) = engine_claim(1, CLUSTER, lambda state: 4)
    held = dict(unit.jobs)
    assert set(held) == {str(j.pk) for j in jobs}
    ids = [str(j.pk) for j in jobs]
    # One claim names a wrong attempt, one a wrong cluster: neither is this unit's any more.
    claims = [
        Claim(ids[0], held[ids[0]], CLUSTER),
        Claim(ids[1], held[ids[1]] + 1, CLUSTER),
        Claim(ids[2], held[ids[2]], CLUSTER),
        Claim(ids[3], held[ids[3]], CLUSTER),
    ]
    Job.objects.filter(pk=ids[3]).update(claimed_by="another-cluster")
    started = transitions.start_unit(claims, worker="h:1", timeout=20)
    assert [s.id for s in started] == [ids[0], ids[2]]
    assert Job.objects.filter(pk__in=ids, started_at__isnull=False).count() == 2
    # Given back under the same claims: again only the two held ones.
    assert transitions.release(claims[0])
    assert not transitions.release(claims[1])
    assert not transitions.release(claims[3])
    stored = {str(j.pk): j for j in Job.objects.filter(pk__in=ids)}
    assert (stored[ids[0]].status, stored[ids[0]].attempts) == (Status.QUEUED, 0)
    assert (stored[ids[1]].status, stored[ids[1]].started_at) == (Status.RUNNING, None)
    assert (stored[ids[2]].status, stored[ids[2]].worker) == (Status.RUNNING, "h:1")
    assert stored[ids[3]].claimed_by == "another-cluster"
