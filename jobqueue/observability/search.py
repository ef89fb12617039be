"""The job search syntax, parsed into ORM filters that work on SQLite and PostgreSQL.

    type=send_tweet status=dead dao_id=42 text~"launch" error~timeout "connection reset"

Terms are separated by spaces and all must match. `name=value` is an exact match and
`name~text` a case-insensitive "contains". The names `type`, `status`, `id`, `key` (the unique
key) and `error` (the last error) are the job's own columns; any other name is a payload field
(`payload.name` forces that reading, `a.b` reaches into nested objects). A bare word or a quoted
string finds a job by its unique key or searches its last error, and a bare job id finds that job. Values are numbers, `true`,
`false`, `null` or text; put text with spaces in double quotes (`\\"` for a quote inside).

An exact payload match uses an index: on PostgreSQL the GIN index on `payload` (containment,
`@>`); on SQLite the expression index of that key, if the deployment created one
(`payload_key_index_sql`). A `~` match reads every job the other terms leave.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTransform

from jobqueue.models import Job, Status

MAX_TERMS = 10
MAX_DEPTH = 4
_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH = re.compile(rf"^{_KEY}(?:\.{_KEY})*$")
_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_.]*)(?P<op>=|~)|(?P<bad>[A-Za-z_][A-Za-z0-9_.]*[:<>!]))?"
    r'(?P<value>"(?:[^"\\]|\\.)*"|[^\s"]+|"(?P<open>.*))?'
)
# A JSON number: no leading zeros ("007" is text, as JSON would refuse it as a number).
_NUMBER = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
COLUMNS = {"type", "status", "id", "key", "error"}
# The largest integer a payload number is compared as (SQLite's and JSON's 64-bit integers).
_MAX_INT = 2**63 - 1


def _query_pattern() -> str:
    """Every query `parse` accepts, and no other, as one regular expression (the OpenAPI
    document's pattern for `?q=`; tests/api/test_search_pattern.py holds the two together)."""
    no_nul = "\\u0000"
    end = r'(?=[\s"]|$)'  # a bare word ends at a space, a double quote or the end
    # A closed, JSON-valid quoted string: no control character, no \u escape of NUL or a surrogate.
    quoted = r'"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u(?!0000)(?![dD][89a-fA-F])[0-9a-fA-F]{4})*"'
    bare = rf'[^\s"{no_nul}]+{end}'
    value = f"(?:{quoted}|{bare})"
    name_chars = "A-Za-z0-9_."
    # Free text: not `name=`, `name~` (a term) nor `name:`, `name<`, `name>`, `name!` (refused).
    free = (
        rf'(?:[A-Za-z_][{name_chars}]*(?:[^\s"{no_nul}=~:<>!{name_chars}][^\s"{no_nul}]*)?'
        rf'|[^\sA-Za-z_"{no_nul}][^\s"{no_nul}]*){end}'
    )
    path = rf"{_KEY}(?:\.{_KEY}){{0,{MAX_DEPTH - 1}}}"
    statuses = "|".join(Status.values)
    uuid_text = _UUID.pattern
    term = "|".join(
        (
            quoted,
            free,
            rf"payload\.(?:{path})?[=~]{value}",
            rf"error[=~]{value}",
            rf"(?:type|key)={value}",
            rf'status=(?:(?:{statuses}){end}|"(?:{statuses})")',
            rf'id=(?:{uuid_text}{end}|"{uuid_text}")',
            rf"(?!(?:{'|'.join(sorted(COLUMNS))})[=~]){path}[=~]{value}",
        )
    )
    return rf"^\s*(?:(?:{term})(?:\s*(?:{term})){{0,{MAX_TERMS - 1}}})?\s*$"


class SearchError(ValueError):
    """A query that does not follow the syntax; the message says what to write instead."""


@dataclass(frozen=True)
class Term:
    name: str  # a column name, "payload.<path>", or "text" (unique key or last error)
    op: str  # "=" or "~"
    value: Any
    quoted: bool = False


def parse(query: str) -> list[Term]:
    """The terms of a query, or SearchError naming the first problem."""
    terms: list[Term] = []
    position = 0
    text = query.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SearchError(f"cannot read the query from {text[position:]!r}")
        position = match.end()
        if match.group("bad"):
            raise SearchError(f"{match.group('bad')!r}: use name=value (exact) or name~text (contains)")
        if match.group("open") is not None:
            raise SearchError("a quoted value is not closed: add the closing double quote")
        raw = match.group("value")
        name, op = match.group("name"), match.group("op")
        if raw is None:
            if name:
                raise SearchError(f"{name}{op} has no value: write {name}{op}something")
            continue
        quoted = raw.startswith('"')
        value = _unquote(raw) if quoted else raw
        terms.append(_term(name or "", op or "~", value, quoted))
    if len(terms) > MAX_TERMS:
        raise SearchError(f"at most {MAX_TERMS} terms in one search")
    return terms


def _unquote(raw: str) -> str:
    """A double-quoted value, read as a JSON string."""
    for escape in _ESCAPE.findall(raw):
        if escape.lower() == "u0000" or (escape[:1] == "u" and 0xD800 <= int(escape[1:], 16) <= 0xDFFF):
            raise SearchError(f"\\{escape} is not allowed in a quoted value: write the character itself")
    try:
        return str(json.loads(raw))
    except ValueError:
        raise SearchError(
            f'{raw[:40]!r} is not a valid quoted value: escape only \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX, '
            "and no control characters"
        ) from None


def _term(name: str, op: str, value: str, quoted: bool) -> Term:
    if name.startswith("payload."):
        name = name.removeprefix("payload.")
    elif name in COLUMNS:
        return _column_term(name, op, value)
    if not name:
        if not quoted and _uuid(value) is not None:
            return Term("id", "=", _uuid(value))
        return Term("text", "~", value)
    if not _PATH.match(name) or name.count(".") >= MAX_DEPTH:
        raise SearchError(f"{name!r} is not a payload field: use letters, digits, _ and up to {MAX_DEPTH} dots")
    return Term(f"payload.{name}", op, value if quoted or op == "~" else _literal(value), quoted)


def _column_term(name: str, op: str, value: str) -> Term:
    if name == "error":
        return Term("error", "~", value)
    if op != "=":
        raise SearchError(f"{name} takes an exact value: write {name}=…")
    if name == "status" and value not in Status.values:
        raise SearchError(f"unknown status {value!r}; use one of {', '.join(Status.values)}")
    if name == "id":
        if _uuid(value) is None:
            raise SearchError(f"{value!r} is not a job id (a UUID)")
        return Term("id", "=", _uuid(value))
    return Term(name, "=", value)


def _uuid(value: str) -> uuid.UUID | None:
    # 32 hex digits, dashed or not: what the OpenAPI pattern can say (uuid.UUID takes more forms).
    return uuid.UUID(value) if _UUID.fullmatch(value) else None


def _literal(value: str) -> Any:
    if value in ("true", "false", "null"):
        return json.loads(value)
    if _NUMBER.match(value):
        number = json.loads(value)
        # Past 64 bits or infinite, no database compares it as a number: match the text.
        if isinstance(number, int) and abs(number) <= _MAX_INT:
            return number
        if isinstance(number, float) and math.isfinite(number):
            return number
    return value


def _payload_equals(path: list[str], value: Any) -> Q:
    """Exact match of a payload field; a number also matches the same number written as text."""
    candidates = [value] if not isinstance(value, int | float) or isinstance(value, bool) else [value, str(value)]
    if connection.vendor == "postgresql":
        query = Q()
        for candidate in candidates:
            nested: Any = candidate
            for key in reversed(path):
                nested = {key: nested}
            query |= Q(payload__contains=nested)  # @>, served by the GIN index
        return query
    if connection.vendor == "mysql":
        # MariaDB / MySQL: Django's key lookups, JSON_EXTRACT compared as JSON values.
        query = Q()
        for candidate in candidates:
            query |= _key_lookup(path, "exact", candidate)
        return query
    # SQLite: the path is a literal in the SQL (checked against _PATH above), so the expression
    # is the one of payload_key_index_sql and the planner can use that index.
    if value is None:
        return _key_lookup(path, "exact", None)
    values = [1 if v is True else 0 if v is False else v for v in candidates]
    sql = f'json_extract("jobqueue_job"."payload", \'{_json_path(path)}\') IN ({", ".join(["%s"] * len(values))})'
    return Q(RawSQL(sql, values, output_field=BooleanField()))  # noqa: S611 (keys match _PATH; values are parameters)


def _key_lookup(path: list[str], lookup: str, value: Any) -> Q:
    """`payload -> path` compared with `lookup`, built as expressions: a key named like a
    Django lookup (`isnull`, `in`, `contains`) stays a key, where `payload__a__isnull` would not."""
    key: Any = KeyTransform(path[0], "payload")
    for name in path[1:]:
        key = KeyTransform(name, key)
    lookup_class = key.get_lookup(lookup)
    return Q(lookup_class(key, value))


def _json_path(path: list[str]) -> str:
    return "$" + "".join(f'."{key}"' for key in path)


def payload_key_index_sql(key: str, vendor: str) -> str:
    """The statement that creates the SQLite expression index an exact search on payload field
    `key` uses (PostgreSQL needs none: its GIN index serves every field). For a migration of the
    deployment: `migrations.RunSQL(payload_key_index_sql("dao_id", "sqlite"))`."""
    if not _PATH.match(key):
        raise SearchError(f"{key!r} is not a payload field name")
    if vendor != "sqlite":
        raise ValueError("only SQLite needs a per-field index; PostgreSQL uses the GIN index on payload")
    name = "jq_job_payload_" + key.replace(".", "_")
    return f"CREATE INDEX IF NOT EXISTS {name} ON jobqueue_job (json_extract(payload, '{_json_path(key.split('.'))}'))"


def to_q(terms: list[Term]) -> Q:
    """One Q object for all the terms (all must match)."""
    query = Q()
    for term in terms:
        if term.name == "type":
            query &= Q(job_type__name=term.value)
        elif term.name == "status":
            query &= Q(status=term.value)
        elif term.name == "id":
            query &= Q(pk=term.value)
        elif term.name == "key":
            query &= Q(unique_key=term.value)
        elif term.name == "error":
            query &= Q(last_error__icontains=str(term.value))
        elif term.name == "text":
            query &= Q(unique_key=str(term.value)) | Q(last_error__icontains=str(term.value))
        else:
            path = term.name.removeprefix("payload.").split(".")
            if term.op == "~":
                query &= _key_lookup(path, "icontains", str(term.value))
            else:
                query &= _payload_equals(path, term.value)
    return query


class SearchTimeout(SearchError):
    """An operator search that ran past SEARCH_TIMEOUT and was cancelled by the database."""


@contextmanager
def time_limited(seconds: float) -> Iterator[None]:
    """Run the queries of one operator search with a time limit the database enforces:
    `SET LOCAL statement_timeout` in a transaction on PostgreSQL, `max_statement_time` for the
    session on MariaDB (reset after). A cancelled query raises SearchTimeout, which names the fix.
    SQLite has no such limit (an embedded, single-host database)."""
    vendor = connection.vendor
    mariadb = vendor == "mysql" and bool(getattr(connection, "mysql_is_mariadb", False))
    try:
        if vendor == "postgresql":
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout = %s", [max(1, int(seconds * 1000))])
                yield
                # Inside an outer transaction (ATOMIC_REQUESTS, tests) SET LOCAL would outlive this
                # savepoint; a timeout rolls it back with the savepoint, success resets it here.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
        elif mariadb:
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION max_statement_time = %s", [seconds])
            try:
                yield
            finally:
                with connection.cursor() as cursor:
                    cursor.execute("SET SESSION max_statement_time = 0")
        else:
            yield
    except DatabaseError as exc:
        if not _cancelled(exc):
            raise
        raise SearchTimeout(
            f"the search took longer than {seconds:g} s and was stopped; narrow it with exact terms "
            "(type=..., status=..., a payload field=value) before a ~ term"
        ) from None


def _cancelled(exc: DatabaseError) -> bool:
    cause = exc.__cause__
    code = getattr(cause, "sqlstate", None) or getattr(getattr(cause, "diag", None), "sqlstate", None)
    if code == "57014":  # PostgreSQL query_canceled
        return True
    args = getattr(cause, "args", ()) or exc.args
    return bool(args) and args[0] in (1969, 3024)  # MariaDB ER_STATEMENT_TIMEOUT, MySQL's


def search(queryset: QuerySet[Job], query: str) -> QuerySet[Job]:
    """The jobs of `queryset` that match `query` (SearchError on bad syntax)."""
    terms = parse(query)
    return queryset.filter(to_q(terms)) if terms else queryset


QUERY_PATTERN = _query_pattern()
