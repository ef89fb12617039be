"""The three databases: which ones the checks accept, and what each must give the engine
(unique keys compared exactly, the claim read from an index in claim order, never sorted)."""

from __future__ import annotations

import itertools
import time
import uuid

import pytest
from django.core import checks
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from jobqueue import enqueue
from jobqueue.checks import unsupported_database
from jobqueue.engine import sql, statements
from jobqueue.models import Job, JobType, Status, new_id, new_id_numbers
from jobqueue.services import enqueue_many
from tests.helpers import claim


@pytest.mark.parametrize(
    ("vendor", "version", "named"),
    [
        ("oracle", None, "(oracle)"),
        ("mariadb", (10, 5, 27), "MariaDB 10.5.27"),
        ("mysql", (5, 7, 44), "MySQL 5.7.44"),
        ("sqlite", (3, 34, 1), "SQLite 3.34.1"),
        ("postgresql", (13, 9), "PostgreSQL 13.9"),
    ],
)
def test_an_unsupported_database_is_e030_naming_what_was_found(
    vendor: str, version: tuple[int, ...] | None, named: str
) -> None:
    message = unsupported_database(vendor, version)
    assert message is not None
    assert message.id == "jobqueue.E030"
    assert message.is_serious()
    assert named in message.msg
    assert message.hint == "Supported: SQLite >= 3.35, PostgreSQL >= 14, MariaDB >= 10.6, MySQL >= 8.0."


@pytest.mark.parametrize(
    ("vendor", "version"),
    [
        ("mariadb", (10, 6, 0)),
        ("mariadb", (11, 4, 2)),
        ("mysql", (8, 0, 36)),
        ("sqlite", (3, 35, 0)),
        ("postgresql", (14, 0)),
    ],
)
def test_a_supported_database_passes(vendor: str, version: tuple[int, ...]) -> None:
    assert unsupported_database(vendor, version) is None


@pytest.mark.django_db
def test_the_database_the_suite_runs_on_passes_both_checks() -> None:
    messages = checks.run_checks(tags=["jobqueue", "jobqueue_database"], databases=["default"])
    assert [m for m in messages if m.id == "jobqueue.E030"] == []


def _job(job_type: JobType, key: str, status: Status = Status.QUEUED) -> Job:
    return Job.objects.create(job_type=job_type, unique_key=key, status=status)


@pytest.mark.django_db(transaction=True)
def test_unique_keys_compare_exactly_and_only_active_jobs_hold_them() -> None:
    echo = JobType.objects.get(name="echo")
    first = _job(echo, "Bob")
    # Case and trailing spaces make another key (MariaDB's default collations would not).
    _job(echo, "bob")
    _job(echo, "Bob ")
    with pytest.raises(IntegrityError), transaction.atomic():
        _job(echo, "Bob")
    Job.objects.filter(pk=first.pk).update(status=Status.SUCCEEDED)
    _job(echo, "Bob", Status.RUNNING)  # a finished job holds its key no more
    with pytest.raises(IntegrityError), transaction.atomic():
        _job(echo, "Bob", Status.SCHEDULED)


@pytest.mark.django_db
@pytest.mark.parametrize("job_type", ["unique_by_key", "unique_for_an_hour"])
def test_enqueue_resolves_a_held_key_to_its_holder_and_only_that_key(job_type: str) -> None:
    first = enqueue(job_type, {"key": "Bob"})
    other = enqueue(job_type, {"key": "bob"})
    again = enqueue(job_type, {"key": "Bob"})
    assert not other.is_duplicate
    assert other.pk != first.pk
    assert again.is_duplicate
    assert again.pk == first.pk


def _plan(text: str, params: list[object]) -> str:
    prefix = {"sqlite": "EXPLAIN QUERY PLAN ", "postgresql": "EXPLAIN ", "mysql": "EXPLAIN "}[connection.vendor]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The planner's costs favour a sort on a small table; what matters is that the
            # index can serve the claim's order at all (it chooses it on a large backlog).
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(prefix + text, params)
        return "\n".join(" ".join(str(v) for v in row) for row in cursor.fetchall())


@pytest.mark.django_db
def test_the_claim_reads_the_waiting_jobs_from_an_index_in_claim_order() -> None:
    echo = JobType.objects.get(name="echo")
    for priority in (0, 5, -5):
        Job.objects.create(job_type=echo, priority=priority)
    for status in (Status.SUCCEEDED, Status.DEAD):
        Job.objects.create(job_type=echo, priority=9, status=status)
    text = statements.text("select_ready", connection.vendor, types=1)
    params = [sql.when(timezone.now()), echo.pk, 10]
    with transaction.atomic():
        plan = _plan(text, params)
        found = sql.rows("select_ready", params, types=1)
    index = "jq_job_claim_gen" if connection.vendor == "mysql" else "jq_job_claim"
    assert index in plan
    assert "sort" not in plan.lower()  # Sort (PostgreSQL), TEMP B-TREE (SQLite), filesort (MariaDB)
    assert "TEMP B-TREE" not in plan
    priorities = list(Job.objects.filter(pk__in=[row[0] for row in found]).values_list("priority", flat=True))
    assert sorted(priorities, reverse=True) == [5, 0, -5]
    assert len(found) == 3  # the finished jobs of a higher priority are not candidates


@pytest.mark.django_db
def test_the_only_partial_unique_constraint_lost_on_mariadb_is_the_one_migration_0010_replaces() -> None:
    with override_settings(SILENCED_SYSTEM_CHECKS=[]):
        lost = [m.obj for m in checks.run_checks(databases=["default"]) if m.id == "models.W036"]
    assert lost == ([Job] if connection.vendor == "mysql" else [])


def test_ids_made_in_one_process_increase_even_within_a_millisecond() -> None:
    ids = [new_id() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {7}


def test_ids_made_in_bulk_are_in_order_with_single_ones_and_not_consecutive() -> None:
    before = new_id()
    bulk = [uuid.UUID(int=n) for n in new_id_numbers(5000)]
    after = new_id()
    ids = [before, *bulk, after]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {7}
    assert {i.variant for i in ids} == {uuid.RFC_4122}
    assert abs((bulk[0].int >> 80) - time.time() * 1000) < 60_000  # its time is the clock's, in ms
    # Within one millisecond an id steps on from the last by a random amount, not by one.
    steps = [b.int - a.int for a, b in itertools.pairwise(bulk)]
    assert sum(step == 1 for step in steps) < 5


@pytest.mark.django_db
def test_equal_jobs_enqueued_together_are_claimed_first_in_first_out() -> None:
    jobs = enqueue_many([{"type": "echo", "payload": {"value": i}} for i in range(30)])
    echo = JobType.objects.get(name="echo")
    params = [sql.when(timezone.now()), echo.pk, 30]
    with transaction.atomic():
        found = [sql.read_id(row[0]) for row in sql.rows("select_ready", params, types=1)]
    assert found == [str(j.pk) for j in jobs]


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite", "mysql"])
def test_every_statement_of_the_table_has_a_text_on_every_database(vendor: str) -> None:
    shape = {"ids": 2, "jobs": 2, "types": 2, "held": 1, "values": 2}
    for name in statements.names():
        text = statements.text(name, vendor, **shape)
        assert text.count("%s") >= 1, name  # every value is a bound parameter
    with pytest.raises(KeyError, match="no SQL statement named 'nothing'"):
        statements.text("nothing", vendor)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner settings of PostgreSQL's claim")
def test_the_claims_planner_settings_hold_inside_its_transaction_and_never_leak_to_the_connection() -> None:
    seen = []
    with sql.write_transaction(synchronous=False, index_order=True), connection.cursor() as cursor:
        for name in ("enable_sort", "enable_seqscan", "synchronous_commit"):
            cursor.execute(f"SHOW {name}")
            seen.append(cursor.fetchone()[0])
    assert seen == ["off", "off", "off"]
    enqueue("echo", {"value": 1})
    assert len(claim(1)) == 1
    with connection.cursor() as cursor:
        after = []
        for name in ("enable_sort", "enable_seqscan", "synchronous_commit"):
            cursor.execute(f"SHOW {name}")
            after.append(cursor.fetchone()[0])
    assert after == ["on", "on", "on"]  # the job's own queries on this connection plan as usual
