"""Running the engine's SQL: named statements (their text is in `engine.statements`), the
prepared INSERTs, parameters in the form each database stores, and the write lock.

Python elsewhere calls `run(name, params, **shape)` and never assembles SQL or asks which
database it is on.
"""

from __future__ import annotations

import functools
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from jobqueue.engine import statements

# Rows per INSERT statement at most. On SQLite fewer when its bound-parameter limit (32,766
# since 3.32, 999 before) is smaller than rows x columns. PostgreSQL gets one array per column
# instead (INSERT ... SELECT FROM UNNEST, as Django's bulk_create does there): a long VALUES
# list would be parsed by psycopg client-side, and planned by the server, for every statement.
ROWS_PER_INSERT = 500


@dataclass(frozen=True)
class Insert:
    """The INSERT of one model's rows, built once per model and dialect."""

    head: str  # INSERT INTO table (columns)
    types: tuple[str, ...]  # each column's type without length (varchar, not varchar(16))
    vendor: str
    rows: int  # rows per statement

    def render(self, columns: list[list[Any]]) -> tuple[str, list[Any]]:
        """The statement and its parameters for these rows, given column by column.

        On PostgreSQL and SQLite a column that holds the same value in every row (the status,
        the type, the empty fields of a new job) is one parameter, not one per row: the rows
        are built from the others, an array per column through `UNNEST` on PostgreSQL, a
        `VALUES` list on SQLite. (Equal database values store the same: they are already in
        the column's type, and the statement casts the one parameter to it.)"""
        count = len(columns[0])
        if count > 1 and self.vendor in ("postgresql", "sqlite"):
            shared = tuple(column.count(column[0]) == count for column in columns)
            if not all(shared):
                scalars = [column[0] for column, same in zip(columns, shared, strict=True) if same]
                varying = [column for column, same in zip(columns, shared, strict=True) if not same]
                if self.vendor == "postgresql":
                    return self._unnest(shared), scalars + varying
                rows = [value for row in zip(*varying, strict=True) for value in row]
                return self._values(shared, count), scalars + rows
        return self._plain(count), [value for row in zip(*columns, strict=True) for value in row]

    @functools.lru_cache(maxsize=64)  # noqa: B019 - a few shapes per model, held as long as the model
    def _unnest(self, shared: tuple[bool, ...]) -> str:
        select: list[str] = []
        arrays: list[str] = []
        for same, kind in zip(shared, self.types, strict=True):
            if same:
                select.append(f"(%s)::{kind}")
            else:
                select.append(f"u.c{len(arrays)}")
                arrays.append(f"(%s)::{kind}[]")
        names = ", ".join(f"c{i}" for i in range(len(arrays)))
        return f"{self.head}SELECT {', '.join(select)} FROM UNNEST({', '.join(arrays)}) AS u({names})"  # noqa: S608 - column names and types of the model

    @functools.lru_cache(maxsize=64)  # noqa: B019 - as above
    def _values(self, shared: tuple[bool, ...], count: int) -> str:
        select, width = [], 0
        for same in shared:
            if same:
                select.append("%s")
            else:
                width += 1
                select.append(f"column{width}")  # SQLite's names for the columns of VALUES
        row = "(" + ", ".join(["%s"] * width) + ")"
        return f"{self.head}SELECT {', '.join(select)} FROM (VALUES {', '.join([row] * count)})"  # noqa: S608

    def single(self) -> str:
        """The statement for one row (its parameters in column order)."""
        return self._plain(1)

    @functools.cached_property
    def single_qmark(self) -> str:
        """`single()` with SQLite's own placeholders, what Django's SQLite cursor makes of it
        (with a regular expression, on every call)."""
        return self.single().replace("%s", "?")

    @functools.lru_cache(maxsize=64)  # noqa: B019 - as above
    def _plain(self, count: int) -> str:
        row = "(" + ", ".join(["%s"] * len(self.types)) + ")"
        return f"{self.head}VALUES {', '.join([row] * count)}"


@functools.lru_cache(maxsize=32)
def _insert(model: type[models.Model], vendor: str) -> Insert:
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column or f.attname) for f in fields)
    rows = ROWS_PER_INSERT
    if vendor == "sqlite":
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        rows = max(1, min(ROWS_PER_INSERT, limit // len(fields)))
    return Insert(
        head=f"INSERT INTO {quote(model._meta.db_table)} ({columns}) ",
        # Array types without length parameters (varchar[], not varchar(16)[]), like Django.
        types=tuple(str(f.db_type(connection)).split("(")[0] for f in fields),
        vendor=vendor,
        rows=rows,
    )


def insert_statement(model: type[models.Model], vendor: str | None = None) -> Insert:
    return _insert(model, vendor or connection.vendor)


def execute_row(db: BaseDatabaseWrapper, statement: Insert, row: list[Any]) -> None:
    """Execute `statement`'s one-row INSERT with `row` on the connection `db`.

    On SQLite, when nothing watches Django's cursors, straight on the driver's connection
    with the statement's `?` form: what Django's cursor does (the same checks, its errors
    translated the same way) without its per-call layers, a quarter of a single enqueue's
    Python (docs/performance.md, "Enqueue, fourth round"). Elsewhere through Django's cursor."""
    if db.vendor == "sqlite" and not _cursors_watched(db):
        db.ensure_connection()
        db.validate_thread_sharing()
        db.validate_no_broken_transaction()
        with db.wrap_database_errors:
            db.connection.execute(statement.single_qmark, row)
        return
    with db.cursor() as cursor:
        cursor.execute(statement.single(), row)


def _cursors_watched(db: BaseDatabaseWrapper) -> bool:
    """Whether something sees the statements of `db` through Django's cursors: a query log
    (DEBUG, a test's CaptureQueriesContext), an execute wrapper, a backend of its own (one
    that counts statements in its cursors, as django-prometheus's), a cursor method replaced
    on the connection (the Django debug toolbar) or on its class, or Django's cursor class
    patched (an APM's, Sentry's). A replaced method is one defined outside Django's module."""
    kind = type(db)
    return (
        db.queries_logged
        or bool(db.execute_wrappers)
        or "cursor" in db.__dict__
        or "create_cursor" in db.__dict__
        or kind.__module__ != _SQLITE_BACKEND
        or kind.create_cursor.__module__ != _SQLITE_BACKEND
        or kind.cursor.__module__ != BaseDatabaseWrapper.__module__
        or CursorWrapper.execute.__module__ != CursorWrapper.__module__
    )


_SQLITE_BACKEND = "django.db.backends.sqlite3.base"


def returns_updated_rows() -> bool:
    """Whether an UPDATE can return the rows it wrote (`UPDATE ... RETURNING`, which the
    multi-row statements need): PostgreSQL and SQLite; not MariaDB / MySQL."""
    return connection.vendor != "mysql"


def has_notify() -> bool:
    """Whether the database can wake listening clusters (PostgreSQL's LISTEN/NOTIFY)."""
    return connections[DEFAULT_DB_ALIAS].vendor == "postgresql"  # the wrapper: one lookup, not the proxy's two


def data_version() -> tuple[object, int] | None:
    """SQLite: this connection's `PRAGMA data_version` (it changes when another connection
    commits a write), with the connection it belongs to, since a new connection counts
    afresh; None on the other databases. A read of the WAL index in shared memory, no I/O."""
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: each read through the proxy is a lookup
    if db.vendor != "sqlite":
        return None
    db.ensure_connection()
    raw = db.connection
    return raw, int(raw.execute("PRAGMA data_version").fetchone()[0])


def notify(channel: str, payload: str = "") -> None:
    """NOTIFY `channel` with `payload`; delivered when the enclosing transaction commits."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


def run(name: str, params: Sequence[Any], **shape: int) -> list[tuple[Any, ...]] | int:
    """Execute statement `name` (sized by `shape`, e.g. ids=3) with `params`.

    Returns the rows of a statement that returns rows, else the number of rows changed."""
    steps = statements.steps(name, connection.vendor, tuple(sorted(shape.items())))
    values = list(params)
    if len(steps) == 1:
        return _execute(steps[0].text, values)
    with transaction.atomic():  # the rows read and the rows written are the same rows
        results = [(step.answer, _execute(step.text, values[step.skip :])) for step in steps]
    return next((result for answer, result in results if answer), results[-1][1])


def _execute(text: str, values: list[Any]) -> list[tuple[Any, ...]] | int:
    with connection.cursor() as cursor:
        cursor.execute(text, values)
        if cursor.description is not None:
            return list(cursor.fetchall())
        return int(cursor.rowcount)


def rows(name: str, params: Sequence[Any], **shape: int) -> list[tuple[Any, ...]]:
    result = run(name, params, **shape)
    assert isinstance(result, list)  # noqa: S101 - a programming error, never input
    return result


def count(name: str, params: Sequence[Any], **shape: int) -> int:
    result = run(name, params, **shape)
    return len(result) if isinstance(result, list) else result


def when(value: datetime | None) -> Any:
    """A datetime parameter, in the form the ORM stores (naive UTC text on SQLite)."""
    return None if value is None else connection.ops.adapt_datetimefield_value(value)


def job_id(value: str | uuid.UUID) -> Any:
    """A job id parameter: a uuid on PostgreSQL, 32 hex characters on SQLite."""
    return job_ids([value])[0]


def job_ids(values: Iterable[str | uuid.UUID]) -> list[Any]:
    """Job id parameters, as `job_id` makes each; the connection is looked up once (through
    Django's proxy each lookup costs more than the conversion: a unit's statements take ids
    by the hundred)."""
    native = connections[DEFAULT_DB_ALIAS].features.has_native_uuid_field
    parsed = (value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)) for value in values)
    return list(parsed) if native else [value.hex for value in parsed]


def read_id(value: Any) -> str:
    """A job id as read back from a statement, in its canonical string form."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


T = TypeVar("T")
# While another process holds SQLite's write lock, look again after about this long.
_LOCK_POLL = 0.001


@contextmanager
def write_transaction(*, synchronous: bool = True, index_order: bool = False) -> Iterator[None]:
    """A transaction that holds the database's write lock from its first statement on SQLite
    (`BEGIN IMMEDIATE`, whatever the project's DATABASES options say); a plain one elsewhere.

    `synchronous=False`, on PostgreSQL and outside an enclosing transaction: the commit does
    not wait for its WAL flush (`SET LOCAL synchronous_commit = off`), for a write whose loss
    in a server crash does no harm and that the next synchronous commit of any session makes
    durable anyway (the WAL is flushed in order). The claim is one: a worker's start, committed
    synchronously, flushes it before the job's code runs, and a claim lost with the server is
    a job still queued, its attempt unspent. SQLite in WAL mode with `synchronous=NORMAL`
    already commits without a flush.

    `index_order=True`, on PostgreSQL and outside an enclosing transaction: the planner may
    neither sort nor scan the table (`SET LOCAL enable_sort = off`, `enable_seqscan = off`),
    for statements that read an index in the order they need and rows by their ids, the
    claim's. Without statistics (a job table just filled, before autovacuum's ANALYZE) it
    otherwise read every due job through `jq_job_due` and sorted them (2.6 ms against 0.4 ms
    for 500 of 3,000 ready jobs), and marked the claimed jobs by scanning the whole table
    (docs/performance.md). The settings are made in one statement."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            local = {
                "synchronous_commit": not synchronous,
                "enable_sort": index_order,
                "enable_seqscan": index_order,
            }
            wanted = [name for name, on in local.items() if on]
            if wanted and outermost and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT " + ", ".join(f"set_config('{name}', 'off', true)" for name in wanted))
            yield
        return
    with ExitStack() as stack:
        _begin_immediate(stack)
        yield


def lone_write(write: Callable[[], T]) -> T:
    """Run `write`, a single write statement outside any transaction. On SQLite the statement
    runs in autocommit, but waits for the write lock as `write_transaction` does (polled, not
    in SQLite's busy handler): with no lock to be had it fails at once, untouched, and is run
    again. Elsewhere, or inside a transaction, it just runs."""
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: each read through the proxy is a lookup
    if db.vendor != "sqlite" or db.in_atomic_block:
        return write()
    return _polled(write, db)


def _begin_immediate(stack: ExitStack) -> None:
    """Enter an atomic block that begins with `BEGIN IMMEDIATE`, waiting for the write lock
    within the connection's busy timeout, but looking again every millisecond or so.

    SQLite's own busy handler sleeps longer and longer between tries (up to 100 ms each): under
    the steady stream of short write transactions of a busy cluster (claims, starts, group
    commits), a claim or a start that has waited a while sleeps through the moments the lock
    is free and loses it to writers that came later, for hundreds of milliseconds. A deferred
    transaction would be worse: one that reads and then writes fails at once with "database is
    locked" when another writer got in between, whatever the busy timeout."""
    previous = getattr(connection, "transaction_mode", None)
    connection.transaction_mode = "IMMEDIATE"  # type: ignore[attr-defined]
    try:
        _polled(lambda: stack.enter_context(transaction.atomic()))
    finally:
        connection.transaction_mode = previous  # type: ignore[attr-defined]


def _polled(attempt: Callable[[], T], db: BaseDatabaseWrapper | None = None) -> T:
    """SQLite: run `attempt` (which takes the write lock first thing) with a busy timeout of
    zero, again every millisecond or so while the lock is taken, for as long as the
    connection's own busy timeout. `db`: the default connection's wrapper, when the caller has it."""
    db = db if db is not None else connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    raw = db.connection
    known = getattr(db, "_jobqueue_patience", None)
    if known is None or known[0] is not raw:
        known = (raw, int(raw.execute("PRAGMA busy_timeout").fetchone()[0]))
        db._jobqueue_patience = known  # type: ignore[attr-defined]
    patience_ms = known[1]
    deadline = time.monotonic() + patience_ms / 1000
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                return attempt()
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(_LOCK_POLL * (0.5 + random.random()))  # noqa: S311 - spreads waiters, not a secret
    finally:
        raw.execute(f"PRAGMA busy_timeout = {patience_ms}")
