"""The job search syntax: parsing, its error messages, and the jobs it finds on either database."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from jobqueue.models import Job, JobType, Status
from jobqueue.observability.search import SearchError, parse, payload_key_index_sql, search


def _job(type_name: str = "echo", status: str = Status.SUCCEEDED, error: str = "", **payload: object) -> Job:
    return Job.objects.create(
        job_type=JobType.objects.get(name=type_name), payload=payload, status=status, last_error=error
    )


def test_parse_reads_fields_operators_and_quoted_text() -> None:
    terms = parse('type=echo dao_id=42 text~"launch day" payload.status=ok a.b=true "connection reset"')
    assert [(t.name, t.op, t.value) for t in terms] == [
        ("type", "=", "echo"),
        ("payload.dao_id", "=", 42),
        ("payload.text", "~", "launch day"),
        ("payload.status", "=", "ok"),
        ("payload.a.b", "=", True),
        ("text", "~", "connection reset"),
    ]


def test_a_value_json_would_not_read_as_a_number_is_text() -> None:
    # "00" and "-01" looked like numbers to the parser, which then failed on them (a 500 in the
    # API's ?q=): JSON numbers have no leading zeros, so these are text, as a code would be.
    terms = parse("code=00 n=-01 zero=0 small=0.5 big=10e2")
    assert [(t.name, t.value) for t in terms] == [
        ("payload.code", "00"),
        ("payload.n", "-01"),
        ("payload.zero", 0),
        ("payload.small", 0.5),
        ("payload.big", 1000.0),
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('text~"launch', "not closed"),
        ("dao_id=", "has no value"),
        ("status=exploded", "unknown status"),
        ("type~echo", "exact value"),
        ("dao_id:42", "use name=value"),
        ("id=42", "not a job id"),
        ("a.b.c.d.e=1", "payload field"),
        (" ".join(["x=1"] * 11), "at most 10"),
    ],
)
def test_bad_syntax_says_what_to_write(query: str, message: str) -> None:
    with pytest.raises(SearchError, match=message):
        parse(query)


@pytest.mark.django_db
def test_search_finds_jobs_by_payload_field_status_type_and_error() -> None:
    hit = _job(dao_id=42, text="Launch of the DAO")
    as_text = _job(dao_id="42")
    _job(dao_id=43, text="launch")
    dead = _job("noop", Status.DEAD, error="TimeoutError: upstream timed out after 30 s", dao_id=42)
    nested = _job(meta={"dao": {"id": 7}})
    everything = Job.objects.all()

    assert set(search(everything, "dao_id=42")) == {hit, as_text, dead}
    assert set(search(everything, 'dao_id=42 text~"launch"')) == {hit}
    assert set(search(everything, "dao_id=42 status=dead")) == {dead}
    assert set(search(everything, "type=noop")) == {dead}
    assert set(search(everything, '"timed out"')) == {dead}  # free text: the last error or the unique key
    assert set(search(everything, 'error~"UPSTREAM"')) == {dead}
    assert set(search(everything, "meta.dao.id=7")) == {nested}
    assert set(search(everything, str(hit.pk))) == {hit}
    assert set(search(everything, f"id={uuid.uuid4()}")) == set()
    assert set(search(everything, "")) == set(everything)


@pytest.mark.django_db
def test_an_exact_payload_search_uses_an_index() -> None:
    if connection.vendor == "mysql":
        pytest.skip("MariaDB / MySQL index no JSON path (no GIN, no expression index): the search reads the table")
    _job(dao_id=42)
    queryset = search(Job.objects.all(), "dao_id=42")
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(payload_key_index_sql("dao_id", "sqlite"))
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "jq_job_payload_dao_id" in plan
        else:
            cursor.execute("SET enable_seqscan = off")  # a tiny table: ask whether the index *can* serve it
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            cursor.execute("SET enable_seqscan = on")
            assert "jq_job_payload_gin" in plan
