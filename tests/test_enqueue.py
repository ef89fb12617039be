"""enqueue / enqueue_many: validation, transactions, statuses."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from jobqueue import PayloadValidationError, UnknownJobTypeError, enqueue, enqueue_many
from jobqueue.models import Job, JobType, Status
from jobqueue.services import BulkEnqueueError, update_job_type
from tests.jobs import echo

pytestmark = pytest.mark.django_db


def test_enqueue_validates_and_stores_the_payload_json() -> None:
    job = enqueue("echo", {"value": "7"}, created_by="test")
    stored = Job.objects.get(pk=job.pk)
    assert stored.payload == {"value": 7, "label": ""}
    assert stored.status == Status.QUEUED
    assert stored.max_attempts == 1
    assert stored.job_type.name == "echo"
    assert stored.created_by == "test"


def test_enqueue_accepts_the_decorated_function() -> None:
    assert enqueue(echo, {"value": 1}).job_type.name == "echo"


def test_bad_payload_gives_field_paths_and_writes_nothing() -> None:
    with pytest.raises(PayloadValidationError) as caught:
        enqueue("echo", {"value": "x", "extra": 1})
    assert set(caught.value.errors) == {"payload.value", "payload.extra"}
    assert Job.objects.count() == 0


def test_unknown_type_is_refused_listing_known_types() -> None:
    with pytest.raises(UnknownJobTypeError, match="echo"):
        enqueue("nope", {})
    assert Job.objects.count() == 0


def test_orphaned_type_is_refused() -> None:
    JobType.objects.create(name="old_type", registered=False)
    with pytest.raises(UnknownJobTypeError):
        enqueue("old_type", {})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"priority": 200}, "priority"),
        ({"delay": -1}, "delay"),
        ({"delay": 5, "run_after": timezone.now()}, "delay"),
        ({"unique_key": ""}, "unique_key"),
    ],
)
def test_bad_options_are_field_errors(kwargs: dict, field: str) -> None:
    with pytest.raises(PayloadValidationError) as caught:
        enqueue("echo", {"value": 1}, **kwargs)
    assert field in caught.value.errors


def test_delay_makes_a_scheduled_job_and_priority_defaults_from_the_type() -> None:
    update_job_type(JobType.objects.get(name="echo"), {"priority": 30})
    job = enqueue("echo", {"value": 1}, delay=60)
    assert job.status == Status.SCHEDULED
    assert job.priority == 30
    assert job.run_after - job.created_at == timedelta(seconds=60)
    assert enqueue("echo", {"value": 1}, priority=-5).priority == -5


def test_enqueue_joins_the_callers_transaction() -> None:
    def enqueue_then_fail() -> None:
        with transaction.atomic():
            enqueue("echo", {"value": 1})
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        enqueue_then_fail()
    assert Job.objects.count() == 0


def test_enqueue_many_is_all_or_nothing_with_errors_by_index() -> None:
    items = [
        {"type": "echo", "payload": {"value": 1}},
        {"type": "echo", "payload": {"value": "bad"}},
        {"type": "ghost", "payload": {}},
        {"type": "noop", "payload": {}},
        {"type": "echo", "payload": {"value": 1}, "colour": "red"},
    ]
    with pytest.raises(BulkEnqueueError) as caught:
        enqueue_many(items)
    assert sorted(caught.value.errors) == [1, 2, 4]
    assert "payload.value" in caught.value.errors[1]
    assert "type" in caught.value.errors[2]
    assert "colour" in caught.value.errors[4]
    assert Job.objects.count() == 0
    jobs = enqueue_many([items[0], items[3]] * 300)
    assert len(jobs) == 600
    assert Job.objects.count() == 600


def _columns(job: Job) -> dict:
    row = Job.objects.filter(pk=job.pk).values().get()
    for moment in ("id", "created_at", "run_after"):
        row.pop(moment)
    return row


def test_enqueue_many_stores_each_job_as_enqueue_does() -> None:
    update_job_type(JobType.objects.get(name="echo"), {"priority": 30})
    requests = [
        {"type": "echo", "payload": {"value": "3", "label": "x"}},
        {"type": "typed_settings", "payload": {"text": "hi"}},
        {"type": "echo", "payload": {"value": 4}, "priority": -7},
        {"type": "noop"},
        {"type": "echo", "payload": {"value": 5}, "delay": 60},
        {"type": "unique_by_key", "payload": {"key": "k"}},
    ]
    many = enqueue_many(requests, created_by="bulk")
    assert [j.job_type.name for j in many] == ["echo", "typed_settings", "echo", "noop", "echo", "unique_by_key"]
    assert all(not j._state.adding for j in many)
    stored = {j.pk: j for j in Job.objects.all()}
    assert set(stored) == {j.pk for j in many}
    bulk_rows = [_columns(j) for j in many]
    Job.objects.all().delete()
    options = [{k: v for k, v in r.items() if k not in ("type", "payload")} for r in requests]
    single = [
        enqueue(r["type"], r.get("payload"), **o, created_by="bulk") for r, o in zip(requests, options, strict=True)
    ]
    assert bulk_rows == [_columns(j) for j in single]
    assert stored[many[0].pk].payload == {"value": 3, "label": "x"}
    assert stored[many[0].pk].priority == 30
    assert stored[many[1].pk].payload == {"text": "hi", "count": 1}
    assert stored[many[4].pk].status == Status.SCHEDULED
    assert stored[many[4].pk].run_after - stored[many[4].pk].created_at == timedelta(seconds=60)
    assert stored[many[5].pk].unique_key is not None


def test_enqueue_many_reports_every_error_of_every_item_by_index_and_writes_nothing() -> None:
    items = [
        {"type": "echo", "payload": echo.definition.payload_model(value=1)},  # a model instance is accepted
        {"type": "echo", "payload": {"value": "x", "extra": 1}, "priority": 500},
        {"type": "echo", "payload": ["not", "an", "object"]},
        {"type": "typed_settings", "payload": {"text": ""}},
        {"type": "echo", "payload": {"value": 2}, "delay": -1},
        {"type": "typed_settings", "payload": {"text": "fine"}},
    ]
    with pytest.raises(BulkEnqueueError) as caught:
        enqueue_many(items)
    errors = caught.value.errors
    assert list(errors) == [1, 2, 3, 4]
    assert set(errors[1]) == {"payload.value", "payload.extra", "priority"}
    assert errors[2] == {"payload": ["must be a JSON object, not list"]}
    assert set(errors[3]) == {"payload.text"}
    assert set(errors[4]) == {"delay"}
    assert Job.objects.count() == 0
    with pytest.raises(PayloadValidationError) as single:
        enqueue("echo", {"value": "x", "extra": 1}, priority=500)
    assert single.value.errors == errors[1]


def test_enqueue_many_stores_text_that_needs_escaping_as_it_was_given() -> None:
    # Tabs, newlines, backslashes and a literal \N are what a bulk write's text format must escape.
    label = 'tab\t newline\n return\r backslash\\ \\N quote" \u00fcn\u00ef \U0001d11e'
    author = "a\tb\\N\nc"
    many = enqueue_many(
        [{"type": "echo", "payload": {"value": i, "label": label}, "delay": i} for i in range(3)], created_by=author
    )
    stored = Job.objects.in_bulk([j.pk for j in many])
    assert len(stored) == 3
    for i, job in enumerate(many):
        row = stored[job.pk]
        assert row.payload == job.payload == {"value": i, "label": label}
        assert row.created_by == job.created_by == author
        assert row.run_after - row.created_at == timedelta(seconds=i)
        assert row.created_at == job.created_at
        assert row.status == job.status == (Status.QUEUED if i == 0 else Status.SCHEDULED)
        assert row.unique_key is None
        assert row.trace_context is None


def test_enqueue_many_joins_the_callers_transaction() -> None:
    seen_inside = []

    @transaction.atomic
    def enqueue_then_fail() -> None:
        jobs = enqueue_many([{"type": "noop"}] * 3 + [{"type": "echo", "payload": {"value": 1}}])
        seen_inside.append(Job.objects.filter(pk__in=[j.pk for j in jobs]).count())
        raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        enqueue_then_fail()
    assert seen_inside == [4]
    assert Job.objects.count() == 0


class _Watched(Mapping[str, Any]):
    """A payload that notes, each time it is read, whether Python's cyclic collector is on."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.collector_on: list[bool] = []

    def __getitem__(self, key: str) -> Any:
        self.collector_on.append(gc.isenabled())
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_enqueue_many_pauses_the_collector_and_leaves_it_as_it_found_it() -> None:
    """The cyclic collector is off while a call builds its jobs (docs/performance.md, "Enqueue,
    fourth round"), on again after it, also after an error; and never turned on by a call
    made while the process has it off."""
    watched = _Watched({"value": 1})
    assert gc.isenabled()
    enqueue_many([{"type": "echo", "payload": watched}, {"type": "noop"}])
    assert watched.collector_on == [False]
    assert gc.isenabled()
    with pytest.raises(BulkEnqueueError):
        enqueue_many([{"type": "echo", "payload": _Watched({"value": "bad"})}])
    assert gc.isenabled()
    gc.disable()
    try:
        enqueue_many([{"type": "echo", "payload": _Watched({"value": 2})}])
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert sorted(Job.objects.filter(job_type__name="echo").values_list("payload__value", flat=True)) == [1, 2]
