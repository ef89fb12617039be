"""Every SQL statement of the worker-side protocol, by name, with its dialect variants.

Python elsewhere calls `run(name, params, **shape)` and never assembles SQL or asks which
database it is on: a reviewer reads the whole claim / start / finish / give-back protocol here.
Only constants of ours (table names, status literals, placeholder lists sized by `shape`)
are interpolated; every value is a bound parameter.

Each statement's guard is the same: `status = 'running' AND attempts = N AND claimed_by = K`.
A worker whose claim was taken over by another cluster matches no row and writes nothing, so
one attempt is never recorded twice.

MariaDB / MySQL have no `UPDATE ... RETURNING` and no partial indexes: there a statement that
returns rows is two, run in one transaction (the guarded rows read `FOR UPDATE`, then updated
with the same guard; or updated by id, then read back), and the claim reads the generated
column `claim_rank` of migration 0010 instead of the partial index jq_job_claim.
"""

from __future__ import annotations

import functools
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db import OperationalError, connection, models, transaction

from jobqueue.models import WAITING, Job

# The statuses as SQL literals: SQLite matches a partial index only against literals, and
# without the claim index a claim sorts the whole backlog.
_WAITING_SQL = ", ".join(f"'{status}'" for status in WAITING)
_RUNNING = "'running'"
_JOB = Job._meta.db_table
_SET_CLAIMED = (
    f"UPDATE {_JOB} SET status = {_RUNNING}, attempts = attempts + 1, claimed_by = %s, "  # noqa: S608
    "lease_expires_at = %s, claimed_at = %s, started_at = NULL, worker = ''"
)
_SET_STARTED = f"UPDATE {_JOB} SET started_at = %s, worker = %s, timeout = %s, lease_expires_at = %s"  # noqa: S608
_STARTED_COLUMNS = "id, attempts, payload, max_attempts, progress, cancel_requested_at, priority, job_type_id"
# The one "give back" clause: a claimed job back to waiting, its attempt unspent, as if never
# claimed. run_after and last_error are kept unless given (a rate-limited job's wait, a note),
# so a job handed back keeps its place in the queue. claimed_at is left as it is: it says when
# the job was last claimed, and the next claim overwrites it.
_SET_GIVEN_BACK = (
    f"UPDATE {_JOB} SET status = %s, attempts = attempts - 1, claimed_by = '', worker = '', "  # noqa: S608
    "lease_expires_at = NULL, started_at = NULL, run_after = COALESCE(%s, run_after), "
    "last_error = COALESCE(%s, last_error)"
)


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _pairs(count: int, postgres: bool) -> str:
    pair = "(%s::uuid, %s::integer)" if postgres else "(%s, %s)"
    return ", ".join([pair] * count)


def _unit_guard(jobs: int, dialect: str) -> str:
    """A unit's jobs, still running under the claims given: the cluster, then (id, attempt) pairs."""
    if dialect == "mysql":
        pairs = " OR ".join(["(id = %s AND attempts = %s)"] * jobs)
        return f"status = {_RUNNING} AND claimed_by = %s AND ({pairs})"
    return f"status = {_RUNNING} AND claimed_by = %s AND (id, attempts) IN (VALUES {_pairs(jobs, dialect == 'postgresql')})"


@dataclass(frozen=True)
class Step:
    """One statement of a named statement, and which of the call's parameters it takes."""

    text: str
    skip: int = 0  # it takes the call's parameters from this one on
    answer: bool = False  # its rows are the answer (else the last statement's row count is)


def _build(name: str, vendor: str, shape: tuple[tuple[str, int], ...]) -> str:
    """The text of statement `name` (its statements joined by "; " where it has several)."""
    return "; ".join(step.text for step in _steps(name, vendor, shape))


@functools.lru_cache(maxsize=512)
def _steps(name: str, vendor: str, shape: tuple[tuple[str, int], ...]) -> tuple[Step, ...]:
    if vendor == "mysql":
        return _build_mysql(name, dict(shape))
    return (Step(_build_returning(name, vendor, dict(shape))),)


def _build_returning(name: str, vendor: str, n: dict[str, int]) -> str:
    """PostgreSQL and SQLite: one statement each, `UPDATE ... RETURNING` where rows come back."""
    job = _JOB
    pg = vendor == "postgresql"
    if name == "select_ready":
        # Ready jobs of the given types (id, type, priority), highest priority first, oldest
        # first within one, and in the order they were made when due at the same moment
        # (enqueue_many gives a whole batch one run_after; ids are time-ordered).
        # PostgreSQL: rows another cluster is claiming are skipped, never waited on.
        # SQLite: without statistics the planner may pick another index plus a sort; the
        # claim index serves this ORDER BY directly at any backlog size.
        exclude = f" AND id NOT IN ({_marks(n['exclude'])})" if n.get("exclude") else ""
        return (
            f"SELECT id, job_type_id, priority FROM {job}{'' if pg else ' INDEXED BY jq_job_claim'} "  # noqa: S608
            f"WHERE status IN ({_WAITING_SQL}) AND run_after <= %s AND job_type_id IN ({_marks(n['types'])}){exclude} "
            f"ORDER BY priority DESC, run_after ASC, id ASC LIMIT %s{' FOR UPDATE SKIP LOCKED' if pg else ''}"
        )
    if name == "mark_claimed":
        # Claim the selected jobs for a cluster: the attempt is counted here, at claim.
        return f"{_SET_CLAIMED} WHERE id IN ({_marks(n['ids'])}) RETURNING id, job_type_id, attempts"
    if name == "start_unit":
        # A worker starts a unit: one write for all its jobs, reading what the attempts need.
        return f"{_SET_STARTED} WHERE {_unit_guard(n['jobs'], vendor)} RETURNING {_STARTED_COLUMNS}"
    if name == "give_back":
        # Claimed jobs back to waiting, attempts unspent, in one write (guarded by claim).
        return f"{_SET_GIVEN_BACK} WHERE {_unit_guard(n['jobs'], vendor)}"
    if name == "renew_held":
        # Extend the leases of claims a cluster really holds that no worker has started yet.
        return f"UPDATE {job} SET lease_expires_at = %s WHERE {_held_guard(n['ids'])} RETURNING id"  # noqa: S608
    if name == "release_unheld":
        # Claims the database says a cluster made but that it does not hold (a claim whose
        # commit it never saw, after a dropped connection): back to the queue, attempt unspent.
        return f"{_SET_GIVEN_BACK} WHERE {_unheld_guard(n.get('held', 0))} RETURNING id"
    return _build_plain(name, n)


def _build_mysql(name: str, n: dict[str, int]) -> tuple[Step, ...]:
    """MariaDB / MySQL: no RETURNING (two statements), no partial index (generated columns)."""
    job = _JOB
    if name == "select_ready":
        # claim_rank (-priority while waiting, else NULL) under jq_job_claim_gen (InnoDB appends
        # the primary key, id, to every secondary index, so the tie-break needs no sort): ascending
        # order is the claim order, and the NULLs of finished jobs are never read.
        exclude = f" AND id NOT IN ({_marks(n['exclude'])})" if n.get("exclude") else ""
        text = (
            f"SELECT id, job_type_id, priority FROM {job} FORCE INDEX (jq_job_claim_gen) "  # noqa: S608
            f"WHERE claim_rank IS NOT NULL AND run_after <= %s AND job_type_id IN ({_marks(n['types'])}){exclude} "
            "ORDER BY claim_rank, run_after, id LIMIT %s FOR UPDATE SKIP LOCKED"
        )
        return (Step(text),)
    if name == "mark_claimed":
        # The rows were selected FOR UPDATE in this transaction: update by id, read back.
        ids = _marks(n["ids"])
        read = f"SELECT id, job_type_id, attempts FROM {job} WHERE id IN ({ids})"  # noqa: S608
        return Step(f"{_SET_CLAIMED} WHERE id IN ({ids})"), Step(read, 3, answer=True)
    if name == "start_unit":
        # The guarded rows read (and locked) first; the update under the same guard then
        # changes exactly those. Likewise renew_held and release_unheld.
        guard = _unit_guard(n["jobs"], "mysql")
        read = f"SELECT {_STARTED_COLUMNS} FROM {job} WHERE {guard} FOR UPDATE"  # noqa: S608
        return Step(read, 4, answer=True), Step(f"{_SET_STARTED} WHERE {guard}")
    if name == "give_back":
        return (Step(f"{_SET_GIVEN_BACK} WHERE {_unit_guard(n['jobs'], 'mysql')}"),)
    if name == "renew_held":
        guard = _held_guard(n["ids"])
        read = f"SELECT id FROM {job} WHERE {guard} FOR UPDATE"  # noqa: S608
        return Step(read, 1, answer=True), Step(f"UPDATE {job} SET lease_expires_at = %s WHERE {guard}")  # noqa: S608
    if name == "release_unheld":
        guard = _unheld_guard(n.get("held", 0))
        read = f"SELECT id FROM {job} WHERE {guard} FOR UPDATE"  # noqa: S608
        return Step(read, 3, answer=True), Step(f"{_SET_GIVEN_BACK} WHERE {guard}")
    return (Step(_build_plain(name, n)),)


def _build_plain(name: str, n: dict[str, int]) -> str:
    """The statements every dialect runs as they are."""
    job = Job._meta.db_table
    if name == "extend_unit":
        # A worker still busy with a unit keeps the leases of its jobs not yet recorded.
        return (
            f"UPDATE {job} SET lease_expires_at = %s "  # noqa: S608
            f"WHERE status = {_RUNNING} AND claimed_by = %s AND worker = %s AND id IN ({_marks(n['ids'])})"
        )
    if name == "finish":
        # Record the decision on one attempt's job (guarded). NULL keeps the old value. An
        # attempt refunded (snoozed) stays in the history and adds one to the job's budget.
        return (
            f"UPDATE {job} SET status = %s, claimed_by = '', worker = '', lease_expires_at = NULL, "  # noqa: S608
            "last_error = %s, progress = COALESCE(%s, progress), finished_at = %s, "
            "run_after = COALESCE(%s, run_after), result = COALESCE(%s, result), max_attempts = max_attempts + %s "
            f"WHERE id = %s AND status = {_RUNNING} AND attempts = %s AND claimed_by = %s"
        )
    raise KeyError(f"no SQL statement named {name!r}")


def _held_guard(ids: int) -> str:
    return f"status = {_RUNNING} AND claimed_by = %s AND started_at IS NULL AND id IN ({_marks(ids)})"


def _unheld_guard(held: int) -> str:
    not_held = f" AND id NOT IN ({_marks(held)})" if held else ""
    return f"status = {_RUNNING} AND claimed_by = %s AND started_at IS NULL AND claimed_at < %s{not_held}"


# Rows per INSERT statement at most. On SQLite fewer when its bound-parameter limit (32,766
# since 3.32, 999 before) is smaller than rows x columns. PostgreSQL gets one array per column
# instead (INSERT ... SELECT FROM UNNEST, as Django's bulk_create does there): a long VALUES
# list would be parsed by psycopg client-side, and planned by the server, for every statement.
ROWS_PER_INSERT = 500


@dataclass(frozen=True)
class Insert:
    """The INSERT of one model's rows, built once per model and dialect."""

    head: str  # INSERT INTO table (columns)
    row: str  # (%s, %s, ...)
    arrays: str | None  # SELECT * FROM UNNEST((%s)::type[], ...), where the dialect has arrays
    rows: int  # rows per statement

    def text(self, count: int) -> tuple[str, bool]:
        """The statement for `count` rows, and whether it takes one array per column."""
        if self.arrays is not None and count > 1:
            return self.head + self.arrays, True
        return f"{self.head}VALUES {', '.join([self.row] * count)}", False


@functools.lru_cache(maxsize=32)
def _insert(model: type[models.Model], vendor: str) -> Insert:
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column or f.attname) for f in fields)
    arrays = None
    rows = ROWS_PER_INSERT
    if vendor == "postgresql":
        # Array types without length parameters (varchar[], not varchar(16)[]), like Django.
        types = [str(f.db_type(connection)).split("(")[0] for f in fields]
        arrays = "SELECT * FROM UNNEST(" + ", ".join(f"(%s)::{t}[]" for t in types) + ")"  # noqa: S608
    elif vendor == "sqlite":
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        rows = max(1, min(ROWS_PER_INSERT, limit // len(fields)))
    return Insert(
        head=f"INSERT INTO {quote(model._meta.db_table)} ({columns}) ",
        row="(" + ", ".join(["%s"] * len(fields)) + ")",
        arrays=arrays,
        rows=rows,
    )


def insert_statement(model: type[models.Model]) -> Insert:
    return _insert(model, connection.vendor)


def has_notify() -> bool:
    """Whether the database can wake listening clusters (PostgreSQL's LISTEN/NOTIFY)."""
    return connection.vendor == "postgresql"


def notify(channel: str) -> None:
    """NOTIFY `channel`; delivered when the enclosing transaction commits."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, '')", [channel])


def run(name: str, params: Sequence[Any], **shape: int) -> list[tuple[Any, ...]] | int:
    """Execute statement `name` (sized by `shape`, e.g. ids=3) with `params`.

    Returns the rows of a statement that returns rows, else the number of rows changed."""
    steps = _steps(name, connection.vendor, tuple(sorted(shape.items())))
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
    parsed = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    return parsed if connection.features.has_native_uuid_field else parsed.hex


def read_id(value: Any) -> str:
    """A job id as read back from a statement, in its canonical string form."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


T = TypeVar("T")
# While another process holds SQLite's write lock, look again after about this long.
_LOCK_POLL = 0.001


@contextmanager
def write_transaction() -> Iterator[None]:
    """A transaction that holds the database's write lock from its first statement on SQLite
    (`BEGIN IMMEDIATE`, whatever the project's DATABASES options say); a plain one elsewhere."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
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
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return write()
    return _polled(write)


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


def _polled(attempt: Callable[[], T]) -> T:
    """SQLite: run `attempt` (which takes the write lock first thing) with a busy timeout of
    zero, again every millisecond or so while the lock is taken, for as long as the
    connection's own busy timeout."""
    connection.ensure_connection()
    raw = connection.connection
    known = getattr(connection, "_jobqueue_patience", None)
    if known is None or known[0] is not raw:
        known = (raw, int(raw.execute("PRAGMA busy_timeout").fetchone()[0]))
        connection._jobqueue_patience = known  # type: ignore[attr-defined]
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
