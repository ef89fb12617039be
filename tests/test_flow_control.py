"""Unique jobs, rate limits, batches, progress and cancellation, in-process through the broker."""

from __future__ import annotations

from datetime import timedelta

import pydantic
import pytest
from django.utils import timezone

from jobqueue import BaseJob, RateLimited, enqueue, enqueue_many, job
from jobqueue.engine.claim import claim as engine_claim
from jobqueue.engine.pipeline import run_unit
from jobqueue.models import Attempt, Job, JobType, RateLimitStart, Status, UniqueLock
from jobqueue.registry import registry
from jobqueue.services import cancel, update_job_type
from tests.helpers import CLUSTER, claim, drain

pytestmark = pytest.mark.django_db


def test_duplicate_unique_job_returns_the_existing_one() -> None:
    first = enqueue("unique_by_key", {"key": "a", "note": "one"})
    second = enqueue("unique_by_key", {"key": "a", "note": "two"})
    other = enqueue("unique_by_key", {"key": "b"})
    assert (first.is_duplicate, second.is_duplicate, other.is_duplicate) == (False, True, False)
    assert second.pk == first.pk
    assert Job.objects.filter(job_type__name="unique_by_key").count() == 2
    assert first.unique_key == '{"key":"a"}'


def test_a_finished_unique_job_frees_its_key() -> None:
    enqueue("unique_by_key", {"key": "a"})
    drain()
    again = enqueue("unique_by_key", {"key": "a"})
    assert not again.is_duplicate


def test_unique_period_holds_after_the_job_finished_and_expires() -> None:
    first = enqueue("unique_for_an_hour", {"key": "k"})
    drain()
    assert enqueue("unique_for_an_hour", {"key": "k"}).pk == first.pk
    UniqueLock.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not enqueue("unique_for_an_hour", {"key": "k"}).is_duplicate


def test_explicit_unique_key_dedupes_any_type_and_bulk_resolves_duplicates() -> None:
    a = enqueue("echo", {"value": 1}, unique_key="order-7")
    assert enqueue("echo", {"value": 2}, unique_key="order-7").pk == a.pk
    jobs = enqueue_many([{"type": "unique_by_key", "payload": {"key": "z"}}] * 3)
    assert [j.is_duplicate for j in jobs] == [False, True, True]
    assert len({j.pk for j in jobs}) == 1


def test_rate_limit_counts_starts_in_the_window() -> None:
    for _ in range(8):
        enqueue("rate_limited", {"ledger": "/dev/null"})
    assert len(claim(20, CLUSTER)) == 5
    assert claim(20, CLUSTER) == []
    RateLimitStart.objects.update(at=timezone.now() - timedelta(seconds=3))
    assert len(claim(20, CLUSTER)) == 3
    assert Job.objects.filter(status=Status.QUEUED).count() == 0


def test_a_claim_not_yet_started_counts_in_every_window() -> None:
    for _ in range(8):
        enqueue("rate_limited", {"ledger": "/dev/null"})
    assert len(claim(20, CLUSTER)) == 5
    # Claimed, but no worker has started them: however long they wait, they will start later
    # than any window seen so far, so a claim ten seconds on still has no room.
    assert engine_claim(20, CLUSTER, now=timezone.now() + timedelta(seconds=10)) == []
    assert RateLimitStart.objects.filter(at__isnull=True).count() == 5


def test_a_job_may_push_back_without_using_an_attempt() -> None:
    with registry.scope():

        @job(name="pushes_back", max_attempts=1)
        def pushes_back() -> None:
            raise RateLimited("upstream 429", after=30)

        queued = enqueue("pushes_back", {})
        (item,) = claim(1, CLUSTER)
        assert run_unit(item) == "recorded"
    stored = Job.objects.get(pk=queued.pk)
    assert (stored.status, stored.attempts) == (Status.SCHEDULED, 0)
    assert stored.run_after > timezone.now() + timedelta(seconds=25)
    assert "upstream 429" in stored.last_error


def test_batch_type_runs_many_jobs_in_one_attempt() -> None:
    enqueue_many([{"type": "batcher", "payload": {"item": i}} for i in range(25)])
    units = claim(1, CLUSTER)
    assert len(units) == 1
    assert len(units[0].jobs) == 10  # the first job plus nine more
    run_unit(units[0])
    drain()
    batches = set(Attempt.objects.values_list("batch_id", flat=True))
    assert len(batches) == 3  # 10 + 10 + 5
    assert Job.objects.filter(status=Status.SUCCEEDED).count() == 25
    assert Job.objects.get(payload__item=7).result["data"] == 7


def test_only_the_failed_items_of_a_batch_are_retried() -> None:
    enqueue_many([{"type": "batcher", "payload": {"item": i, "fail": i in (3, 8)}} for i in range(10)])
    drain()
    failed = Job.objects.filter(status=Status.RETRYING)
    assert sorted(j.payload["item"] for j in failed) == [3, 8]
    assert Job.objects.filter(status=Status.SUCCEEDED).count() == 8
    failed.update(run_after=timezone.now())
    drain()
    assert Job.objects.filter(status=Status.SUCCEEDED).count() == 10
    assert Attempt.objects.count() == 12


def test_progress_is_written_while_running() -> None:
    from jobqueue.context import JobContext
    from jobqueue.registry import registry as reg

    job_row = enqueue("echo", {"value": 1})
    (item,) = claim(1, CLUSTER)
    state_ctx = JobContext(
        job_id=item.jobs[0][0], definition=reg.get("echo"), config=None, attempt=1, max_attempts=1, deadline=None
    )  # type: ignore[arg-type]
    state_ctx.progress(0.4, "reading")
    stored = Job.objects.get(pk=job_row.pk)
    assert (stored.progress, stored.progress_message) == (0.4, "reading")


def test_cancel_request_is_seen_by_the_running_job(make_user) -> None:
    from jobqueue.context import JobContext
    from jobqueue.registry import registry as reg

    job_row = enqueue("cancellable", {})
    (item,) = claim(1, CLUSTER)
    ctx = JobContext(
        job_id=item.jobs[0][0], definition=reg.get("cancellable"), config=None, attempt=1, max_attempts=1, deadline=None
    )  # type: ignore[arg-type]
    assert ctx.is_cancelled() is False
    cancel(job_row, by=make_user())
    ctx._cancel_checked = 0.0
    assert ctx.is_cancelled() is True


def test_disabled_type_keeps_jobs_until_enabled() -> None:
    update_job_type(JobType.objects.get(name="echo"), {"enabled": False})
    enqueue("echo", {"value": 1})
    assert drain() == []
    update_job_type(JobType.objects.get(name="echo"), {"enabled": True})
    assert drain() == ["succeeded"]


def test_a_lone_job_of_a_batch_type_runs_through_execute_batch() -> None:
    enqueue("batcher", {"item": 41})
    assert drain() == ["succeeded"]
    assert Job.objects.get().result["data"] == 41


def test_skip_and_push_back_from_execute_batch_apply_to_the_whole_batch() -> None:
    from jobqueue import BaseJob, SkipJob

    with registry.scope():

        @job(name="skipping_batch", batch_size=5)
        class SkippingBatch(BaseJob):
            def execute_batch(self, ctx, payloads):
                raise SkipJob("nothing to do today")

        @job(name="pushing_batch", batch_size=5)
        class PushingBatch(BaseJob):
            def execute_batch(self, ctx, payloads):
                raise RateLimited("slow down", after=60)

        enqueue_many([{"type": "skipping_batch", "payload": {}}] * 3)
        enqueue_many([{"type": "pushing_batch", "payload": {}}] * 2)
        drain()
    statuses = sorted(Job.objects.values_list("job_type__name", "status", "attempts"))
    assert statuses == [("pushing_batch", "scheduled", 0)] * 2 + [("skipping_batch", "skipped", 1)] * 3


def test_follow_up_with_a_held_unique_key_resolves_to_the_holder() -> None:
    holder = enqueue("unique_by_key", {"key": "k"}, delay=3600)  # waiting, so it holds the key
    with registry.scope():

        @job(name="spawns_unique", max_attempts=1)
        def spawns_unique(ctx) -> None:
            ctx.enqueue("unique_by_key", {"key": "k"})

        enqueue("spawns_unique", {})
        drain(limit=1)
    assert Job.objects.get(job_type__name="spawns_unique").status == Status.SUCCEEDED
    assert list(Job.objects.filter(job_type__name="unique_by_key").values_list("pk", flat=True)) == [holder.pk]


def test_the_per_job_checks_run_for_each_job_of_a_batch_and_decide_it_alone() -> None:
    """check_prerequisites / check_resources / validate refuse single jobs of a batch; the
    rest still run in one execute_batch call, with ctx.job_ids matching the payloads."""
    from jobqueue import PermanentError, RetryableError, SkipJob

    calls: list[tuple[list[int], list[str]]] = []
    hooks: list[tuple[str, int | None, str]] = []

    with registry.scope():

        @job(name="checked_batch", batch_size=10, max_attempts=2, backoff_jitter=0.0)
        class CheckedBatch(BaseJob):
            class Payload(pydantic.BaseModel):
                item: int

            def check_prerequisites(self, ctx, payload):
                if payload.item == 1:
                    raise SkipJob("no parent record")

            def check_resources(self, ctx, payload):
                if payload.item == 2:
                    raise RetryableError("upstream busy")

            def validate(self, ctx, payload):
                if payload.item == 3:
                    raise PermanentError("never valid")

            def execute_batch(self, ctx, payloads):
                calls.append(([p.item for p in payloads], list(ctx.job_ids)))
                return [p.item * 10 for p in payloads]

            def on_failure(self, ctx, payload, error):
                hooks.append(("on_failure", payload.item if payload else None, str(error)))

            def on_dead(self, ctx, payload, error):
                hooks.append(("on_dead", payload.item if payload else None, str(error)))

        jobs = enqueue_many([{"type": "checked_batch", "payload": {"item": i}} for i in range(6)])
        assert drain() == ["succeeded", "skipped", "retrying", "dead", "succeeded", "succeeded"]

    ids = {j.payload["item"]: str(j.pk) for j in jobs}
    assert calls == [([0, 4, 5], [ids[0], ids[4], ids[5]])]
    stored = {j.payload["item"]: j for j in Job.objects.all()}
    assert {item: j.status for item, j in stored.items()} == {
        0: Status.SUCCEEDED,
        1: Status.SKIPPED,
        2: Status.RETRYING,
        3: Status.DEAD,
        4: Status.SUCCEEDED,
        5: Status.SUCCEEDED,
    }
    assert stored[5].result["data"] == 50
    assert "upstream busy" in stored[2].last_error
    assert sorted(hooks) == [("on_dead", 3, "never valid"), ("on_failure", 2, "upstream busy")]
    # Every job still has its own attempt, all sharing the batch id.
    assert Attempt.objects.count() == 6
    assert Attempt.objects.values("batch_id").distinct().count() == 1


def test_a_job_of_a_batch_whose_cancel_was_requested_is_not_executed(make_user) -> None:
    seen: list[list[int]] = []
    with registry.scope():

        @job(name="cancel_batch", batch_size=5)
        class CancelBatch(BaseJob):
            class Payload(pydantic.BaseModel):
                item: int

            def execute_batch(self, ctx, payloads):
                seen.append([p.item for p in payloads])
                return [None for _ in payloads]

        jobs = enqueue_many([{"type": "cancel_batch", "payload": {"item": i}} for i in range(3)])
        (unit,) = claim(1, CLUSTER)
        cancel(Job.objects.get(pk=jobs[1].pk), by=make_user())  # claimed: only a request
        run_unit(unit)

    assert seen == [[0, 2]]
    statuses = {j.payload["item"]: j.status for j in Job.objects.all()}
    assert statuses == {0: Status.SUCCEEDED, 1: Status.CANCELLED, 2: Status.SUCCEEDED}
    assert Attempt.objects.get(job_id=jobs[1].pk).outcome == "cancelled"


def test_a_failed_item_of_a_batch_calls_on_failure_then_on_dead_when_it_gives_up() -> None:
    hooks: list[tuple[str, int, str]] = []
    with registry.scope():

        @job(name="failing_item_batch", batch_size=5, max_attempts=2, backoff_base=0.1, backoff_jitter=0.0)
        class FailingItemBatch(BaseJob):
            class Payload(pydantic.BaseModel):
                item: int

            def execute_batch(self, ctx, payloads):
                return [ValueError(f"item {p.item} broke") if p.item == 1 else p.item for p in payloads]

            def on_failure(self, ctx, payload, error):
                hooks.append(("on_failure", payload.item, str(error)))

            def on_dead(self, ctx, payload, error):
                hooks.append(("on_dead", payload.item, str(error)))

        enqueue_many([{"type": "failing_item_batch", "payload": {"item": i}} for i in range(2)])
        drain()
        Job.objects.filter(status=Status.RETRYING).update(run_after=timezone.now())
        drain()

    assert hooks == [("on_failure", 1, "item 1 broke"), ("on_dead", 1, "item 1 broke")]
    assert sorted(Job.objects.values_list("status", flat=True)) == [Status.DEAD, Status.SUCCEEDED]
