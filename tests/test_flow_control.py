"""Unique jobs, rate limits, batches, progress and cancellation, in-process through the broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobqueue import RateLimited, enqueue, enqueue_many, job
from jobqueue.claim import claim
from jobqueue.models import Attempt, Job, JobType, RateLimitStart, Status, UniqueLock
from jobqueue.registry import registry
from jobqueue.runner import run_job
from jobqueue.services import cancel, update_job_type
from tests.helpers import CLUSTER, drain

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


def test_a_job_may_push_back_without_using_an_attempt() -> None:
    with registry.scope():

        @job(name="pushes_back", max_attempts=1)
        def pushes_back() -> None:
            raise RateLimited("upstream 429", after=30)

        queued = enqueue("pushes_back", {})
        (item,) = claim(1, CLUSTER)
        assert run_job(item.job_id, item.attempt, CLUSTER) == "queued"
    stored = Job.objects.get(pk=queued.pk)
    assert (stored.status, stored.attempts) == (Status.SCHEDULED, 0)
    assert stored.run_after > timezone.now() + timedelta(seconds=25)
    assert "upstream 429" in stored.last_error


def test_batch_type_runs_many_jobs_in_one_attempt() -> None:
    enqueue_many([{"type": "batcher", "payload": {"item": i}} for i in range(25)])
    units = claim(1, CLUSTER)
    assert len(units) == 1
    assert len(units[0].batch) == 9  # the first job plus nine more
    run_job(units[0].job_id, units[0].attempt, CLUSTER, units[0].batch)
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
        job_id=item.job_id, definition=reg.get("echo"), config=None, attempt=1, max_attempts=1, deadline=None
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
        job_id=item.job_id, definition=reg.get("cancellable"), config=None, attempt=1, max_attempts=1, deadline=None
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
