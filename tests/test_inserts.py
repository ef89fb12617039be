"""The hot-path INSERT must store exactly what the ORM's own save would store."""

from __future__ import annotations

import sqlite3
import uuid
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction
from django.db.backends.utils import CursorWrapper
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobqueue.engine import inserts, sql
from jobqueue.models import Attempt, Job, JobType, Outcome, Status

pytestmark = pytest.mark.django_db


def _stored(obj: models.Model) -> dict[str, Any]:
    """Every column as read back through the ORM."""
    row = type(obj).objects.filter(pk=obj.pk).values(*(f.attname for f in obj._meta.concrete_fields)).get()
    row.pop("id")
    return row


# A fixed moment with microseconds, so that both rows of a comparison get the same times.
MOMENT = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)


def _job(**overrides: Any) -> Job:
    now = MOMENT
    fields: dict[str, Any] = {
        "job_type": JobType.objects.get(name="echo"),
        "payload": {"text": "é ✓ \"quoted\" 'single' \\ back", "nested": {"list": [1, 2.5, None, True]}},
        "priority": -3,
        "status": Status.SCHEDULED,
        "max_attempts": 7,
        "run_after": now + timedelta(minutes=5),
        "created_at": now,
        "started_at": None,
        "progress": 0.25,
        "unique_key": None,
        "created_by": "api:someone",
        **overrides,
    }
    return Job(**fields)


def test_a_job_inserted_fast_reads_back_equal_to_one_saved_by_the_orm() -> None:
    parent = _job()
    parent.save()
    fast, orm = _job(rerun_of=parent, unique_key="k-1"), _job(rerun_of=parent, unique_key="k-2")
    inserts.insert([fast])
    orm.save(force_insert=True)
    a, b = _stored(fast), _stored(orm)
    assert a.pop("unique_key") == "k-1"
    assert b.pop("unique_key") == "k-2"
    assert a == b
    assert a["rerun_of_id"] == parent.pk
    assert a["status"] == "scheduled"
    assert a["payload"]["text"] == "é ✓ \"quoted\" 'single' \\ back"
    assert not fast._state.adding


def test_many_rows_in_one_call_and_nulls_stay_null() -> None:
    jobs = [_job(payload={"n": n}, run_after=timezone.now(), status=Status.QUEUED, progress=None) for n in range(120)]
    inserts.insert(jobs)
    stored = {j.pk: j for j in Job.objects.filter(pk__in=[j.pk for j in jobs])}
    assert len(stored) == 120
    assert sorted(j.payload["n"] for j in stored.values()) == list(range(120))
    assert all(j.progress is None and j.unique_key is None and j.result is None for j in stored.values())


def test_an_attempt_with_logs_and_a_batch_id_matches_the_orm() -> None:
    job = _job()
    job.save()
    now = timezone.now()
    batch = uuid.uuid4()

    def attempt(number: int) -> Attempt:
        return Attempt(
            job=job,
            number=number,
            cluster="c",
            host="h",
            pid=42,
            started_at=now - timedelta(seconds=2),
            finished_at=now,
            duration_ms=2000,
            outcome=Outcome.FAILED,
            error_type="ValueError",
            error_message="bad",
            traceback="Traceback ...",
            logs=[{"level": "info", "message": "hi"}],
            batch_id=batch,
        )

    fast, orm = attempt(1), attempt(2)
    inserts.insert([fast])
    orm.save(force_insert=True)
    fast = Attempt.objects.get(job=job, number=1)
    a, b = _stored(fast), _stored(orm)
    assert a.pop("number") == 1
    assert b.pop("number") == 2
    assert a == b
    assert a["batch_id"] == batch
    assert a["outcome"] == "failed"


def test_a_constraint_violation_is_django_s_integrity_error_and_writes_nothing() -> None:
    job = _job(unique_key="same", status=Status.QUEUED)
    inserts.insert([job])
    with pytest.raises(IntegrityError), transaction.atomic():
        inserts.insert([_job(unique_key="same", status=Status.QUEUED)])
    assert Job.objects.filter(unique_key="same").count() == 1


def test_a_naive_datetime_is_converted_by_the_field_like_the_orm_does() -> None:
    naive = timezone.make_naive(timezone.now(), timezone.get_default_timezone())
    job = _job(created_at=naive)
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        inserts.insert([job])
    stored = Job.objects.get(pk=job.pk).created_at
    assert stored == timezone.make_aware(naive, timezone.get_default_timezone())


def test_rows_beyond_one_statement_all_arrive_also_under_a_low_sqlite_variable_limit() -> None:
    """More rows than one statement takes; on SQLite with the 999-variable limit of old
    libraries too (25 columns: 39 rows per statement instead of 500)."""
    raw = None
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        previous = raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    sql._insert.cache_clear()
    try:
        jobs = [_job(payload={"n": n}, status=Status.QUEUED) for n in range(1100)]
        inserts.insert(jobs)
    finally:
        if raw is not None:
            raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, previous)
        sql._insert.cache_clear()
    assert Job.objects.count() == 1100
    assert sorted(Job.objects.values_list("payload__n", flat=True)) == list(range(1100))


def test_rows_sharing_some_columns_and_not_others_read_back_as_the_orm_saves_them() -> None:
    """Columns equal in every row go as one parameter, the others row by row: a mix of both,
    equal values that are distinct objects, and NULLs in some rows only."""
    parent = _job()
    parent.save()
    shared_time = timezone.now()
    jobs = [
        _job(
            payload={"n": n},
            priority=n % 3,
            status=Status.QUEUED,
            run_after=shared_time,
            created_at=shared_time,
            progress=None if n % 2 else 0.5,
            created_by="".join(["api:", "someone"]),  # equal, never the same object
            rerun_of=parent if n == 4 else None,
        )
        for n in range(6)
    ]
    twins = [
        _job(**{f.attname: getattr(j, f.attname) for f in Job._meta.concrete_fields if f.attname != "id"}) for j in jobs
    ]
    inserts.insert(jobs)
    for twin in twins:
        twin.save(force_insert=True)
    for fast, orm in zip(jobs, twins, strict=True):
        assert _stored(fast) == _stored(orm)
    stored = {j.pk: j for j in Job.objects.filter(pk__in=[j.pk for j in jobs])}
    assert [stored[j.pk].progress for j in jobs] == [0.5, None, 0.5, None, 0.5, None]
    assert [stored[j.pk].rerun_of_id for j in jobs] == [None, None, None, None, parent.pk, None]
    assert {stored[j.pk].status for j in jobs} == {"queued"}


def test_build_gives_the_instance_the_model_s_own_constructor_gives() -> None:
    values = {
        "id": uuid.uuid4(),
        "job_type_id": JobType.objects.get(name="echo").pk,
        "payload": {"value": 1},
        "priority": 5,
        "status": Status.SCHEDULED,
        "run_after": MOMENT,
        "created_at": MOMENT,
        "unique_key": None,
        "created_by": "me",
    }
    built, made = inserts.build(Job, values), Job(**values)
    attnames = [f.attname for f in Job._meta.concrete_fields]
    assert {a: getattr(built, a) for a in attnames} == {a: getattr(made, a) for a in attnames}
    assert built._state.adding
    assert built._state.db is None
    built.save(force_insert=True)
    assert Job.objects.get(pk=values["id"]).payload == {"value": 1}
    # A field with a computed default gets a fresh value when not given.
    other = inserts.build(Job, {"job_type_id": values["job_type_id"]})
    assert other.id != built.id
    assert other.payload == {}
    assert other.payload is not inserts.build(Job, {}).payload


def _raw(obj: models.Model) -> list[Any]:
    """Every column but the id as the database holds it (on SQLite a moment is its text)."""
    table, quote = obj._meta.db_table, connection.ops.quote_name
    columns = [f.column for f in obj._meta.concrete_fields if f.attname != "id"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)} WHERE id = %s",  # noqa: S608 - the model's own names
            [obj._meta.pk.get_db_prep_value(obj.pk, connection)],
        )
        return list(cursor.fetchone())


@pytest.mark.parametrize(
    "moments",
    [
        pytest.param("same", id="run-after-is-created-at"),
        pytest.param("zones", id="another-zone-and-whole-seconds"),
    ],
)
def test_a_single_row_stores_the_very_values_the_orm_stores(moments: str) -> None:
    """The single-row path converts a moment once when two columns hold the same one, and on
    SQLite and MariaDB writes a UTC moment's text itself: the stored values, compared as the
    database holds them (text on SQLite, where a different text would sort differently), are
    the ORM's."""
    if moments == "same":
        created = run_after = timezone.now()
    else:
        created = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)  # no microseconds: no fraction in the text
        run_after = datetime(2026, 5, 4, 5, 2, 1, 500, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    fast = _job(created_at=created, run_after=run_after, trace_context={"traceparent": "00-ab-cd-01"})
    orm = _job(created_at=created, run_after=run_after, trace_context={"traceparent": "00-ab-cd-01"})
    inserts.insert([fast])
    orm.save(force_insert=True)
    assert _raw(fast) == _raw(orm)
    assert Job.objects.get(pk=fast.pk).run_after == run_after


def test_a_single_row_goes_through_django_s_cursor_when_queries_are_watched() -> None:
    """On SQLite a single row skips Django's cursor layers, unless something watches them
    (a query log, an execute wrapper): then they see the INSERT as before."""
    logged, wrapped_job = _job(), _job()
    with CaptureQueriesContext(connection) as queries:
        inserts.insert([logged])
    assert len(queries.captured_queries) == 1
    assert queries.captured_queries[0]["sql"].startswith(f"INSERT INTO {connection.ops.quote_name('jobqueue_job')}")
    wrapped: list[str] = []

    def wrapper(execute: Any, statement: str, params: Any, many: bool, context: Any) -> Any:
        wrapped.append(statement)
        return execute(statement, params, many, context)

    with connection.execute_wrapper(wrapper):
        inserts.insert([wrapped_job])
    assert wrapped == [sql.insert_statement(Job).single()]
    assert Job.objects.count() == 2


def test_a_single_row_goes_through_django_s_cursor_when_its_methods_are_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What an APM's patch of Django's cursor class (Sentry's), a tool that replaces a
    connection's `cursor` (the debug toolbar) or a backend's own cursors (django-prometheus's
    count statements) see of a single row: the INSERT, as before."""
    class_patched, connection_patched = _job(), _job()
    seen: list[str] = []
    original_execute = CursorWrapper.execute

    def traced_execute(self: CursorWrapper, statement: str, params: Any = None) -> Any:
        seen.append(f"class: {statement[:11]}")
        return original_execute(self, statement, params)

    monkeypatch.setattr(CursorWrapper, "execute", traced_execute)
    inserts.insert([class_patched])
    monkeypatch.undo()
    db = connections[DEFAULT_DB_ALIAS]
    original_cursor = db.cursor

    def traced_cursor() -> Any:
        seen.append("connection")
        return original_cursor()

    monkeypatch.setattr(db, "cursor", traced_cursor)
    inserts.insert([connection_patched])
    monkeypatch.undo()
    backend_patched = _job()
    original_create = type(db).create_cursor

    def counted_create_cursor(self: Any, name: Any = None) -> Any:
        seen.append("backend")
        return original_create(self, name)

    monkeypatch.setattr(type(db), "create_cursor", counted_create_cursor)
    inserts.insert([backend_patched])
    monkeypatch.undo()
    assert seen == ["class: INSERT INTO", "connection", "backend"]
    assert Job.objects.filter(pk__in=[class_patched.pk, connection_patched.pk, backend_patched.pk]).count() == 3


def test_a_single_row_in_a_transaction_marked_for_rollback_is_refused_like_any_query() -> None:
    job = _job()
    with transaction.atomic():
        transaction.set_rollback(True)
        with transaction.atomic(savepoint=False):  # an inner block that failed, as Django marks it
            connection.needs_rollback = True
        with pytest.raises(TransactionManagementError):
            inserts.insert([job])
    assert Job.objects.count() == 0
