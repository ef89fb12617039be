"""Partitioned job types: the key computed at enqueue, limits per partition value, round robin."""

from __future__ import annotations

import importlib
import threading
import time
from datetime import timedelta

import pydantic
import pytest
from django.db import connection
from django.utils import timezone

from jobqueue import BaseJob, enqueue, enqueue_many, job
from jobqueue.engine import sql
from jobqueue.exceptions import ConfigurationError
from jobqueue.models import WAITING, Job, JobType, PartitionTurn, RateLimitStart, Status
from jobqueue.registry import registry
from jobqueue.services import cancel, rerun, update_job_type
from tests.helpers import claim, job_ids

pytestmark = pytest.mark.django_db


def _keys(units) -> list[str]:
    by_id = dict(Job.objects.filter(pk__in=job_ids(units)).values_list("pk", "partition_key"))
    return [by_id[Job._meta.pk.to_python(j)] for j in job_ids(units)]


def test_the_partition_value_is_stored_from_the_payload_field_or_the_class_method() -> None:
    assert enqueue("per_dao", {"dao": "dao-7"}).partition_key == "dao-7"
    assert enqueue("per_account", {"handle": "@Alice"}).partition_key == "alice"
    assert enqueue("echo", {"value": 1}).partition_key == ""
    stored = Job.objects.filter(job_type__name="per_account").get()
    assert stored.partition_key == "alice"
    long = enqueue("per_dao", {"dao": "x" * 300}).partition_key
    assert long.startswith("sha256:")
    assert len(long) == 71


def test_a_partition_must_name_a_payload_field_or_be_a_method_and_not_both() -> None:
    with registry.scope():
        with pytest.raises(ConfigurationError, match=r"partition='dao_id' must name a field of the payload"):

            @job(name="bad_partition", partition="dao_id")
            def bad_partition(dao: str) -> None: ...

        with pytest.raises(ConfigurationError, match="not both"):

            @job(name="both_partitions", partition="dao")
            class Both(BaseJob):
                class Payload(pydantic.BaseModel):
                    dao: str

                def partition_key(self, payload: Payload) -> str:
                    return payload.dao

                def execute(self, ctx, payload) -> None: ...


def test_concurrency_holds_per_partition_value_while_other_values_proceed() -> None:
    enqueue_many([{"type": "per_dao", "payload": {"dao": dao}} for dao in ["a"] * 4 + ["b"] * 4 + ["c"]])
    first = claim(20)
    assert sorted(_keys(first)) == ["a", "a", "b", "b", "c"]  # two per DAO: the limit is per value
    assert claim(20) == []
    Job.objects.filter(pk__in=job_ids(first), partition_key="a").update(status=Status.SUCCEEDED)
    assert sorted(_keys(claim(20))) == ["a", "a"]


def test_a_limit_of_the_whole_type_holds_beside_the_one_per_value() -> None:
    update_job_type(JobType.objects.get(name="per_dao"), {"concurrency": 3})
    enqueue_many([{"type": "per_dao", "payload": {"dao": dao}} for dao in ["a"] * 4 + ["b"] * 4])
    assert sorted(_keys(claim(20))) == ["a", "a", "b"]  # three in all, at most two of one DAO
    assert claim(20) == []


def test_limits_per_value_need_a_partition() -> None:
    with registry.scope(), pytest.raises(ConfigurationError, match="partition_concurrency and partition_rate_limit"):

        @job(name="per_nothing", partition_concurrency=2)
        def per_nothing(dao: str) -> None: ...


def test_the_rate_limit_holds_per_partition_value() -> None:
    enqueue_many([{"type": "per_account", "payload": {"handle": h}} for h in ["@alice"] * 5 + ["bob"] * 5 + ["Alice"]])
    assert sorted(_keys(claim(20))) == ["alice"] * 3 + ["bob"] * 3  # 3 per 2 s each
    assert claim(20) == []
    assert set(RateLimitStart.objects.values_list("partition_key", flat=True)) == {"alice", "bob"}
    RateLimitStart.objects.filter(partition_key="bob").update(at=timezone.now() - timedelta(seconds=3))
    assert sorted(_keys(claim(20))) == ["bob", "bob"]  # bob's window moved on, alice's did not


def test_ready_jobs_are_claimed_round_robin_across_partition_values() -> None:
    enqueue_many([{"type": "per_tenant", "payload": {"tenant": "big"}} for _ in range(50)])
    enqueue_many([{"type": "per_tenant", "payload": {"tenant": t}} for t in ("s1", "s2") for _ in range(3)])
    order = _keys(claim(10))
    assert order == ["big", "s1", "s2", "big", "s1", "s2", "big", "s1", "s2", "big"]
    # Within a partition, oldest first.
    claimed = Job.objects.filter(status=Status.RUNNING, partition_key="big").order_by("created_at", "id")
    assert list(claimed.values_list("pk", flat=True)) == list(
        Job.objects.filter(partition_key="big").order_by("created_at", "id").values_list("pk", flat=True)[:4]
    )


def test_claim_after_claim_goes_round_the_partition_values() -> None:
    enqueue_many([{"type": "per_tenant", "payload": {"tenant": "big"}} for _ in range(50)])
    enqueue_many([{"type": "per_tenant", "payload": {"tenant": t}} for t in ("s1", "s2") for _ in range(2)])
    # One job per claim: each claim serves the value served longest ago, not the oldest backlog.
    order = [key for _ in range(7) for key in _keys(claim(1))]
    assert order == ["big", "s1", "s2", "big", "s1", "s2", "big"]


def test_round_robin_is_within_a_priority() -> None:
    enqueue_many([{"type": "per_tenant", "payload": {"tenant": "big"}, "priority": 10} for _ in range(3)])
    enqueue_many([{"type": "per_tenant", "payload": {"tenant": "small"}} for _ in range(2)])
    assert _keys(claim(5)) == ["big", "big", "big", "small", "small"]


def test_partitioned_and_plain_types_share_a_claim_by_priority_then_age() -> None:
    early = enqueue("echo", {"value": 1})
    enqueue("per_tenant", {"tenant": "t"}, delay=0)
    urgent = enqueue("per_tenant", {"tenant": "u"}, priority=50)
    later = enqueue("echo", {"value": 2})
    order = job_ids(claim(4))
    assert order[0] == str(urgent.pk)
    assert order.index(str(early.pk)) < order.index(str(later.pk))
    assert len(order) == 4


def test_a_more_urgent_job_in_a_value_far_back_in_the_turn_order_is_claimed_first() -> None:
    # More values than one claim probes (the jobs it wants and a few more), one job each; the
    # urgent job's value comes last in the turn order.
    enqueue_many([{"type": "per_tenant", "payload": {"tenant": f"t{i:03}"}} for i in range(120)])
    urgent = enqueue("per_tenant", {"tenant": "t119"}, priority=50)
    assert job_ids(claim(1)) == [str(urgent.pk)]
    assert _keys(claim(1)) == ["t000"]  # then the turn order again


def test_a_type_with_one_partition_value_drains_in_claims_as_big_as_a_plain_types() -> None:
    enqueue_many([{"type": "echo", "payload": {"value": i}} for i in range(30)])
    assert len(claim(20)) == 20
    Job.objects.filter(status=Status.QUEUED).delete()
    enqueue_many([{"type": "per_tenant", "payload": {"tenant": "only"}} for _ in range(30)])
    assert _keys(claim(20)) == ["only"] * 20
    enqueue_many([{"type": "per_tenant", "payload": {"tenant": "other"}} for _ in range(30)])
    assert sorted(_keys(claim(20))) == ["only"] * 10 + ["other"] * 10  # turn by turn


def test_a_value_found_without_jobs_loses_its_turn_and_gets_it_back_at_its_next_enqueue() -> None:
    enqueue_many([{"type": "per_tenant", "payload": {"tenant": f"t{i}"}} for i in range(5)])
    assert len(claim(10)) == 5
    Job.objects.filter(status=Status.RUNNING).update(status=Status.SUCCEEDED, finished_at=timezone.now())
    assert claim(10) == []
    # Five values drained: none is probed again until it has a job.
    assert not PartitionTurn.objects.filter(served_at__isnull=False).exists()
    again = enqueue("per_tenant", {"tenant": "t3"})
    assert list(PartitionTurn.objects.filter(served_at__isnull=False).values_list("partition_key", flat=True)) == ["t3"]
    assert job_ids(claim(10)) == [str(again.pk)]


def test_a_value_whose_jobs_all_run_keeps_its_turn_for_a_retry() -> None:
    enqueue("per_tenant", {"tenant": "busy"})
    assert len(claim(10)) == 1
    assert claim(10) == []  # a probe finds the value without a ready job: its job is running
    Job.objects.filter(status=Status.RUNNING).update(status=Status.QUEUED, claimed_by="")  # as a retry would
    assert _keys(claim(10)) == ["busy"]


@pytest.mark.django_db(transaction=True)
def test_an_enqueue_racing_the_claim_that_empties_its_value_leaves_the_value_a_turn() -> None:
    # Claims drain eight values faster than one thread enqueues into them, so claims keep
    # finding values without jobs while a job is on its way in. A job and its value's turn
    # are committed together, and only these claims take turns away: after each claim, every
    # value with a waiting job must have a turn. (Were one taken away wrongly, the job would
    # wait for the claim's fallback, the first job in claim order, out of turn.)
    values = [f"r{i}" for i in range(8)]
    done = threading.Event()
    stranded: set[str] = set()

    def enqueue_all() -> None:
        try:
            for i in range(300):
                enqueue("per_tenant", {"tenant": values[i % len(values)]})
                time.sleep(0.002)  # slower than the claims: the values keep running dry
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=enqueue_all)
    thread.start()
    while not done.is_set():
        claim(20)
        with sql.write_transaction():  # SQLite: the lock taken as the engine takes it, polled
            Job.objects.filter(status=Status.RUNNING).update(status=Status.SUCCEEDED, finished_at=timezone.now())
        # Waiting first: a job read here has its turn committed (or taken) by the next read.
        waiting = set(Job.objects.filter(status__in=WAITING).values_list("partition_key", flat=True))
        turned = set(PartitionTurn.objects.filter(served_at__isnull=False).values_list("partition_key", flat=True))
        stranded |= waiting - turned
    thread.join()
    assert stranded == set()
    assert Job.objects.filter(job_type__name="per_tenant").count() == 300


def test_a_dependent_re_armed_by_a_re_run_has_its_value_a_turn_again(make_user) -> None:
    first = enqueue("per_tenant", {"tenant": "a"})
    later = enqueue("per_tenant", {"tenant": "x"}, after=[first])
    operator = make_user(superuser=True)
    cancel(first, by=operator)
    assert Job.objects.get(pk=later.pk).status == Status.CANCELLED
    assert claim(10) == []  # both values found without jobs: no turns
    assert not PartitionTurn.objects.filter(served_at__isnull=False).exists()
    again = rerun(Job.objects.get(pk=first.pk), by=operator)
    assert Job.objects.get(pk=later.pk).status == Status.BLOCKED
    turned = PartitionTurn.objects.filter(served_at__isnull=False).values_list("partition_key", flat=True)
    assert sorted(turned) == ["a", "x"]  # x waits for the re-run, and is claimed in its turn after
    assert job_ids(claim(10)) == [str(again.pk)]


def test_the_migration_gives_the_values_of_jobs_already_waiting_a_turn() -> None:
    from django.apps import apps

    migration = importlib.import_module("jobqueue.migrations.0022_partition_heads")
    enqueue_many([{"type": "per_tenant", "payload": {"tenant": t}} for t in ("old-a", "old-b")])
    done = enqueue("per_tenant", {"tenant": "old-done"})
    Job.objects.filter(pk=done.pk).update(status=Status.SUCCEEDED, finished_at=timezone.now())
    PartitionTurn.objects.all().delete()  # as before the migration: no rows for waiting values
    migration._fill_turns(apps, None)
    turned = PartitionTurn.objects.filter(served_at__isnull=False).values_list("partition_key", flat=True)
    assert sorted(turned) == ["old-a", "old-b"]
    assert _keys(claim(10)) == ["old-a", "old-b"]
