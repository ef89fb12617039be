"""The table of statements: every SQL statement of the worker-side protocol, one block per
name, each block with all its dialect variants together.

A block is a function of the dialect ("postgresql", "sqlite", "mysql") and the statement's
shape (how many ids, jobs or types it takes) returning its `Step`s: one statement on
PostgreSQL and SQLite; on MariaDB / MySQL, which have no `UPDATE ... RETURNING`, a statement
that returns rows is two, run in one transaction (the guarded rows read `FOR UPDATE`, then
updated with the same guard; or updated by id, then read back). `engine.sql.run()` runs them
by name; `text()` gives a statement's text to tests and `bench/`. Only constants of ours
(table names, status literals, placeholder lists sized by the shape) are interpolated; every
value is a bound parameter.

Each statement's guard is the same: `status = 'running' AND attempts = N AND claimed_by = K`.
A worker whose claim was taken over by another cluster matches no row and writes nothing, so
one attempt is never recorded twice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from jobqueue.models import WAITING, Dependency, Job, PartitionTurn

# The statuses as SQL literals: SQLite matches a partial index only against literals, and
# without the claim index a claim sorts the whole backlog.
_WAITING_SQL = ", ".join(f"'{status}'" for status in WAITING)
_RUNNING = "'running'"
_JOB = Job._meta.db_table
_TURN = PartitionTurn._meta.db_table
_DEPENDENCY = Dependency._meta.db_table
_SET_CLAIMED = (
    f"UPDATE {_JOB} SET status = {_RUNNING}, attempts = attempts + 1, claimed_by = %s, "  # noqa: S608
    "lease_expires_at = %s, claimed_at = %s, started_at = NULL, worker = ''"
)
_SET_STARTED = f"UPDATE {_JOB} SET started_at = %s, worker = %s, timeout = %s, lease_expires_at = %s"  # noqa: S608
_STARTED_COLUMNS = (
    "id, attempts, payload, max_attempts, progress, cancel_requested_at, priority, job_type_id, trace_context"
)
# The one "give back" clause: a claimed job back to waiting, its attempt unspent, as if never
# claimed. run_after and last_error are kept unless given (a rate-limited job's wait, a note),
# so a job handed back keeps its place in the queue (the claim orders by priority, then
# run_after). claimed_at is left as it is: it says when the job was last claimed, and the
# next claim overwrites it. Parameters: status, run_after, last_error.
_SET_GIVEN_BACK = (
    f"UPDATE {_JOB} SET status = %s, attempts = attempts - 1, claimed_by = '', worker = '', "  # noqa: S608
    "lease_expires_at = NULL, started_at = NULL, run_after = COALESCE(%s, run_after), "
    "last_error = COALESCE(%s, last_error)"
)

Shape = dict[str, int]


@dataclass(frozen=True)
class Step:
    """One statement of a named statement, and which of the call's parameters it takes."""

    text: str
    skip: int = 0  # it takes the call's parameters from this one on
    answer: bool = False  # its rows are the answer (else the last statement's row count is)


_TABLE: dict[str, Callable[[str, Shape], tuple[Step, ...]]] = {}


def _statement(block: Callable[[str, Shape], tuple[Step, ...]]) -> Callable[[str, Shape], tuple[Step, ...]]:
    _TABLE[block.__name__] = block
    return block


@functools.lru_cache(maxsize=512)
def steps(name: str, vendor: str, shape: tuple[tuple[str, int], ...]) -> tuple[Step, ...]:
    """The steps of statement `name` on `vendor` for `shape` (sorted (key, count) pairs)."""
    block = _TABLE.get(name)
    if block is None:
        raise KeyError(f"no SQL statement named {name!r}; the table has {sorted(_TABLE)}")
    return block(vendor, dict(shape))


def text(name: str, vendor: str, **shape: int) -> str:
    """The text of statement `name` (its steps joined by "; " where it has several)."""
    return "; ".join(step.text for step in steps(name, vendor, tuple(sorted(shape.items()))))


def names() -> list[str]:
    return sorted(_TABLE)


# -- the claim ---------------------------------------------------------------------------------


@_statement
def select_ready(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Ready jobs of the given types (id, type, priority, run_after), highest priority first, oldest first
    within one, and in the order they were made when due at the same moment (enqueue_many
    gives a whole batch one run_after; ids are time-ordered). Parameters: now, the type ids,
    the limit."""
    types = _marks(n["types"])
    if vendor == "mysql":
        # No partial index: claim_rank (-priority while waiting, else NULL, migration 0010)
        # under jq_job_claim_gen (InnoDB appends the primary key, id, to every secondary
        # index, so the tie-break needs no sort): ascending order is the claim order, and
        # the NULLs of finished jobs are never read.
        return (
            Step(
                f"SELECT id, job_type_id, priority, run_after FROM {_JOB} FORCE INDEX (jq_job_claim_gen) "  # noqa: S608
                f"WHERE claim_rank IS NOT NULL AND run_after <= %s AND job_type_id IN ({types}) "
                "ORDER BY claim_rank, run_after, id LIMIT %s FOR UPDATE SKIP LOCKED"
            ),
        )
    pg = vendor == "postgresql"
    # PostgreSQL: rows another cluster is claiming are skipped, never waited on. SQLite:
    # without statistics the planner may pick another index plus a sort; the claim index
    # serves this ORDER BY directly at any backlog size.
    return (
        Step(
            f"SELECT id, job_type_id, priority, run_after FROM {_JOB}{'' if pg else ' INDEXED BY jq_job_claim'} "  # noqa: S608
            f"WHERE status IN ({_WAITING_SQL}) AND run_after <= %s AND job_type_id IN ({types}) "
            f"ORDER BY priority DESC, run_after ASC, id ASC LIMIT %s{' FOR UPDATE SKIP LOCKED' if pg else ''}"
        ),
    )


@_statement
def select_ready_fair(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Ready jobs of the given partitioned types (id, type, priority, partition, run_after),
    round robin across partition values within a priority: a job's turn is its place in its
    partition's queue (oldest first); the claim takes every partition's first turn, then every
    second one..., and within a turn the partition served longest ago first (`PartitionTurn`;
    never served: first), then the oldest job. Read without locks: `lock_ready` takes the
    rows. It ranks every ready job of those types at or above the given priority: the claim
    uses it only when a job of a higher priority than every head it probed waits
    (`select_heads`), for the jobs of that priority and above. Parameters: now, the type ids,
    the lowest priority, the limit."""
    types = _marks(n["types"])
    waiting = "claim_rank IS NOT NULL" if vendor == "mysql" else f"status IN ({_WAITING_SQL})"
    return (
        Step(
            "SELECT r.id, r.job_type_id, r.priority, r.partition_key, r.run_after FROM ("  # noqa: S608
            "SELECT id, job_type_id, priority, partition_key, run_after, row_number() OVER ("
            "PARTITION BY job_type_id, priority, partition_key ORDER BY run_after, id) AS turn "
            f"FROM {_JOB} WHERE {waiting} AND run_after <= %s AND job_type_id IN ({types}) AND priority >= %s"
            f") r LEFT JOIN {_TURN} t ON t.job_type_id = r.job_type_id AND t.partition_key = r.partition_key "
            "ORDER BY r.priority DESC, r.turn, t.served_at IS NOT NULL, t.served_at, r.run_after, r.id LIMIT %s"
        ),
    )


def _head(vendor: str, alias: str, outer: str, limit: str, joined: tuple[str, str] | None = None) -> str:
    """The waiting jobs of the partition value of row `outer` (its job_type_id and
    partition_key) due by the first parameter after `joined` (more FROM items and their
    condition, with their own parameters), in claim order, `limit` of them: one descent of
    the value's head index."""
    tables, condition = (f"{joined[0]}, ", f"{joined[1]} AND ") if joined else ("", "")
    where = f"{condition}{alias}.job_type_id = {outer}.job_type_id AND {alias}.partition_key = {outer}.partition_key"
    if vendor == "mysql":
        return (
            f"FROM {tables}{_JOB} {alias} FORCE INDEX (jq_job_partition_head_gen) WHERE {where} "
            f"AND {alias}.claim_rank IS NOT NULL AND {alias}.run_after <= %s "
            f"ORDER BY {alias}.claim_rank, {alias}.run_after, {alias}.id LIMIT {limit}"
        )
    indexed = " INDEXED BY jq_job_partition_head" if vendor == "sqlite" else ""
    return (
        f"FROM {tables}{_JOB} {alias}{indexed} WHERE {where} AND {alias}.status IN ({_WAITING_SQL}) "
        f"AND {alias}.run_after <= %s ORDER BY {alias}.priority DESC, {alias}.run_after, {alias}.id LIMIT {limit}"
    )


@_statement
def select_heads(vendor: str, n: Shape) -> tuple[Step, ...]:
    """The next partition values of the given types in turn order (served longest ago first,
    never served first of all; values without a turn are not read), each with its head: the
    value's first ready job in claim order, or NULLs when it has none due. Per value: (turn
    id, type, partition, fills, head id, head priority, head run_after), one index descent
    each. Read without locks: `lock_ready` takes the heads. Parameters: now, the type ids,
    how many values."""
    head = _head(vendor, "h", "t", "1")
    # SQLite otherwise reads the type's every value by its key and sorts them.
    turn_order = " INDEXED BY jq_partition_turn_order" if vendor == "sqlite" else ""
    # The head is computed at the level that reads the turns in their index's order, so
    # that it is read for the values returned only (and SQLite reads it in index order: from
    # a derived table's rows it sorted each value's jobs).
    return (
        Step(
            f"SELECT v.id, v.job_type_id, v.partition_key, v.fills, j.id, j.priority, j.run_after FROM ("  # noqa: S608
            f"SELECT t.id, t.job_type_id, t.partition_key, t.fills, t.served_at, (SELECT h.id {head}) AS head "
            f"FROM {_TURN} t{turn_order} WHERE t.served_at IS NOT NULL AND t.job_type_id IN ({_marks(n['types'])}) "
            f"ORDER BY t.served_at, t.id LIMIT %s) v LEFT JOIN {_JOB} j ON j.id = v.head ORDER BY v.served_at, v.id"
        ),
    )


@_statement
def select_from_values(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Up to k ready jobs of each given partition value, each value's in claim order (for a
    claim that has fewer values with a head than it wants jobs): (id, type, priority,
    partition, run_after) per job, in no particular order. Parameters, for each value: its
    turn id, now, k."""
    columns = "h.id, h.job_type_id, h.priority, h.partition_key, h.run_after"
    one = f"SELECT {columns} {_head(vendor, 'h', 'v', '%s', (f'{_TURN} v', 'v.id = %s'))}"
    # A derived table each: SQLite takes no LIMIT on a member of a compound SELECT.
    parts = [f"SELECT * FROM ({one}) AS s{i}" for i in range(n["values"])]  # noqa: S608
    return (Step(" UNION ALL ".join(parts)),)


@_statement
def best_ready(vendor: str, n: Shape) -> tuple[Step, ...]:
    """The first ready job in claim order of the given (partitioned) types above a priority:
    (id, type, priority, partition, run_after). One seek on the claim index when nothing
    waits above that priority; else it walks the claim index from the top until a job of
    those types. Parameters: now, the type ids, the priority it must exceed."""
    types = _marks(n["types"])
    if vendor == "mysql":
        return (
            Step(
                f"SELECT id, job_type_id, priority, partition_key, run_after FROM {_JOB} FORCE INDEX (jq_job_claim_gen) "  # noqa: S608
                f"WHERE claim_rank IS NOT NULL AND run_after <= %s AND job_type_id IN ({types}) AND claim_rank < 0 - %s "
                "ORDER BY claim_rank, run_after, id LIMIT 1"
            ),
        )
    indexed = " INDEXED BY jq_job_claim" if vendor == "sqlite" else ""
    return (
        Step(
            f"SELECT id, job_type_id, priority, partition_key, run_after FROM {_JOB}{indexed} "  # noqa: S608
            f"WHERE status IN ({_WAITING_SQL}) AND run_after <= %s AND job_type_id IN ({types}) AND priority > %s "
            "ORDER BY priority DESC, run_after ASC, id ASC LIMIT 1"
        ),
    )


@_statement
def any_ready(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Whether any job of the given types is ready: one row or none, from the head index
    (a descent per type, past its jobs not yet due). The claim asks before a statement that
    walks the claim index, which would read every other type's ready job when none of these
    is. Parameters: now, the type ids."""
    types = _marks(n["types"])
    if vendor == "mysql":
        where = f"claim_rank IS NOT NULL AND run_after <= %s AND job_type_id IN ({types})"
        index = " FORCE INDEX (jq_job_partition_head_gen)"
    else:
        where = f"status IN ({_WAITING_SQL}) AND run_after <= %s AND job_type_id IN ({types})"
        index = " INDEXED BY jq_job_partition_head" if vendor == "sqlite" else ""
    return (Step(f"SELECT 1 FROM {_JOB}{index} WHERE {where} LIMIT 1"),)  # noqa: S608


@_statement
def live_values(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Of the given turns, those whose value has a job waiting (due or not), running or
    blocked: one that is or may again be ready without an enqueue. Returns their turn ids.
    Parameters: the turn ids."""
    waiting = "claim_rank IS NOT NULL" if vendor == "mysql" else f"status IN ({_WAITING_SQL})"
    same = "j.job_type_id = t.job_type_id AND j.partition_key = t.partition_key"
    return (
        Step(
            f"SELECT t.id FROM {_TURN} t WHERE t.id IN ({_marks(n['ids'])}) AND ("  # noqa: S608
            f"EXISTS (SELECT 1 FROM {_JOB} j WHERE {same} AND j.{waiting}) OR "
            f"EXISTS (SELECT 1 FROM {_JOB} j WHERE {same} AND j.status IN ('running', 'blocked')))"
        ),
    )


@_statement
def lock_turns(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Of the given turns, those no other transaction is writing (SKIP LOCKED: an enqueue
    filling the value, another claim), locked, with their current fills: (id, fills). On
    SQLite the claim's write lock already holds them. Parameters: the turn ids."""
    lock = "" if vendor == "sqlite" else " ORDER BY id FOR UPDATE SKIP LOCKED"
    return (Step(f"SELECT id, fills FROM {_TURN} WHERE id IN ({_marks(n['ids'])}){lock}"),)  # noqa: S608


@_statement
def set_turns(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Set the given turns' served_at: now (served, or passed over) or NULL (no turn: the
    value had nothing left). Parameters: served_at, the turn ids."""
    return (Step(f"UPDATE {_TURN} SET served_at = %s WHERE id IN ({_marks(n['ids'])})"),)  # noqa: S608


@_statement
def fill_turns(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Partition values that were just given a job (an enqueue, a dependent re-armed): each
    gets a turn (its row made, or its NULL served_at set to never served, a turn it already
    has kept) and one more fill, in the transaction that writes the jobs. Parameters, per
    value in key order (two enqueues lock shared rows in the same order): the never-served
    moment, type id, partition."""
    rows = ", ".join(["(%s, %s, %s, 1)"] * n["values"])
    insert = f"INSERT INTO {_TURN} (served_at, job_type_id, partition_key, fills) VALUES {rows}"  # noqa: S608
    if vendor == "mysql":
        # No conflict target: the unique key (type, partition) is the table's only one.
        # VALUES(served_at) is the row that was to be inserted.
        return (
            Step(
                f"{insert} ON DUPLICATE KEY UPDATE fills = fills + 1, served_at = COALESCE(served_at, VALUES(served_at))"
            ),
        )
    return (
        Step(
            f"{insert} ON CONFLICT (job_type_id, partition_key) DO UPDATE SET "
            f"fills = {_TURN}.fills + 1, served_at = COALESCE({_TURN}.served_at, excluded.served_at)"
        ),
    )


@_statement
def lock_ready(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Of the given jobs, those still ready, locked for this claim (SKIP LOCKED: rows another
    cluster is claiming are left to it); on SQLite the claim's write lock already holds them.
    Returns their ids. Parameters: now, the ids."""
    waiting = "claim_rank IS NOT NULL" if vendor == "mysql" else f"status IN ({_WAITING_SQL})"
    lock = " FOR UPDATE SKIP LOCKED"
    if vendor == "sqlite":
        # The unary + keeps SQLite from reading these terms from an index (it picked the
        # status index and read every waiting job): the ids are the lookup.
        waiting, lock = f"+status IN ({_WAITING_SQL}) AND +run_after <= %s", ""
    else:
        waiting += " AND run_after <= %s"
    return (
        Step(
            f"SELECT id FROM {_JOB} WHERE {waiting} "  # noqa: S608
            f"AND id IN ({_marks(n['ids'])}){lock}"
        ),
    )


@_statement
def mark_claimed(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Claim the selected jobs for a cluster: the attempt is counted here, at claim. Returns
    (id, type, attempts). Parameters: cluster, lease, now, the ids."""
    ids = _marks(n["ids"])
    if vendor == "mysql":
        # The rows were selected FOR UPDATE in this transaction: update by id, read back.
        read = f"SELECT id, job_type_id, attempts FROM {_JOB} WHERE id IN ({ids})"  # noqa: S608
        return Step(f"{_SET_CLAIMED} WHERE id IN ({ids})"), Step(read, 3, answer=True)
    return (Step(f"{_SET_CLAIMED} WHERE id IN ({ids}) RETURNING id, job_type_id, attempts"),)


# -- a worker's unit ---------------------------------------------------------------------------


@_statement
def start_unit(vendor: str, n: Shape) -> tuple[Step, ...]:
    """A worker starts a unit: one write for all its jobs, reading what the attempts need.
    Parameters: now, worker, timeout, lease, then the unit guard's (cluster, id, attempt...)."""
    guard = _unit_guard(n["jobs"], vendor)
    if vendor == "mysql":
        # The guarded rows read (and locked) first; the update under the same guard then
        # changes exactly those. Likewise renew_held and release_unheld.
        read = f"SELECT {_STARTED_COLUMNS} FROM {_JOB} WHERE {guard} FOR UPDATE"  # noqa: S608
        return Step(read, 4, answer=True), Step(f"{_SET_STARTED} WHERE {guard}")
    if vendor == "postgresql":
        return (Step(f"{_SET_STARTED} {_unit_join(n['jobs'])} RETURNING {_STARTED_COLUMNS}"),)
    return (Step(f"{_SET_STARTED} WHERE {guard} RETURNING {_STARTED_COLUMNS}"),)


@_statement
def extend_unit(vendor: str, n: Shape) -> tuple[Step, ...]:
    """A worker still busy with a unit keeps the leases of its jobs not yet recorded.
    Parameters: lease, cluster, worker, the ids."""
    return (
        Step(
            f"UPDATE {_JOB} SET lease_expires_at = %s "  # noqa: S608
            f"WHERE status = {_RUNNING} AND claimed_by = %s AND worker = %s AND id IN ({_marks(n['ids'])})"
        ),
    )


@_statement
def finish(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Record the decision on one attempt's job (guarded). NULL keeps the old value. An
    attempt refunded (snoozed) stays in the history and adds one to the job's budget.
    Parameters: status, last_error, progress, finished_at, run_after, result, refund (0 or
    1), id, attempt, cluster."""
    return (
        Step(
            f"UPDATE {_JOB} SET status = %s, claimed_by = '', worker = '', lease_expires_at = NULL, "  # noqa: S608
            "last_error = %s, progress = COALESCE(%s, progress), finished_at = %s, "
            "run_after = COALESCE(%s, run_after), result = COALESCE(%s, result), max_attempts = max_attempts + %s "
            f"WHERE id = %s AND status = {_RUNNING} AND attempts = %s AND claimed_by = %s"
        ),
    )


@_statement
def finish_many(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Record the decisions on many attempts' jobs in one statement, each row guarded by its
    own claim as `finish` guards one; returns the ids of the rows written (PostgreSQL and
    SQLite only: MariaDB / MySQL record with one `finish` per job). Parameters, per job: id,
    attempt, cluster, then `finish`'s status, last_error, progress, finished_at, run_after,
    result, refund."""
    if vendor == "postgresql":
        # Typed in every row: a column of NULLs would otherwise be text, and the values of
        # VALUES are typed before the SET sees them.
        row = (
            "(%s::uuid, %s::integer, %s::varchar, %s::varchar, %s::text, %s::double precision, "
            "%s::timestamptz, %s::timestamptz, %s::jsonb, %s::integer)"
        )
        values = f"(VALUES {', '.join([row] * n['jobs'])}) AS v(id, attempts, claimed_by, status, " + (
            "last_error, progress, finished_at, run_after, result, refund)"
        )
        col = {name: f"v.{name}" for name in _FINISH_COLUMNS}
    else:
        # SQLite names the columns of VALUES column1, column2, ...
        row = "(" + ", ".join(["%s"] * len(_FINISH_COLUMNS)) + ")"
        values = f"(VALUES {', '.join([row] * n['jobs'])}) AS v"
        col = {name: f"v.column{i + 1}" for i, name in enumerate(_FINISH_COLUMNS)}
    return (
        Step(
            f"UPDATE {_JOB} SET status = {col['status']}, claimed_by = '', worker = '', "  # noqa: S608
            f"lease_expires_at = NULL, last_error = {col['last_error']}, "
            f"progress = COALESCE({col['progress']}, {_JOB}.progress), finished_at = {col['finished_at']}, "
            f"run_after = COALESCE({col['run_after']}, {_JOB}.run_after), "
            f"result = COALESCE({col['result']}, {_JOB}.result), "
            f"max_attempts = {_JOB}.max_attempts + {col['refund']} FROM {values} "
            f"WHERE {_JOB}.id = {col['id']} AND {_JOB}.status = {_RUNNING} "
            f"AND {_JOB}.attempts = {col['attempts']} AND {_JOB}.claimed_by = {col['claimed_by']} "
            f"RETURNING {_JOB}.id"
        ),
    )


_FINISH_COLUMNS = (
    "id",
    "attempts",
    "claimed_by",
    "status",
    "last_error",
    "progress",
    "finished_at",
    "run_after",
    "result",
    "refund",
)


@_statement
def give_back(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Claimed jobs back to waiting, attempts unspent, in one write guarded by their claims
    (see _SET_GIVEN_BACK). Parameters: status, run_after, note, then the unit guard's."""
    if vendor == "postgresql":
        return (Step(f"{_SET_GIVEN_BACK} {_unit_join(n['jobs'])}"),)
    return (Step(f"{_SET_GIVEN_BACK} WHERE {_unit_guard(n['jobs'], vendor)}"),)


@_statement
def any_dependent(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Whether any job waits for one of the given jobs (a row of 1, or none): the probe that
    spares the jobs without dependents, nearly all of them, `dependencies.resolve()`'s joins.
    Parameters: the ids."""
    return (Step(f"SELECT 1 FROM {_DEPENDENCY} WHERE on_id IN ({_marks(n['ids'])}) LIMIT 1"),)  # noqa: S608


# -- a cluster's claims ------------------------------------------------------------------------


@_statement
def renew_held(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Extend the leases of claims a cluster really holds that no worker has started yet;
    returns their ids. Parameters: lease, cluster, the ids."""
    guard = f"status = {_RUNNING} AND claimed_by = %s AND started_at IS NULL AND id IN ({_marks(n['ids'])})"
    update = f"UPDATE {_JOB} SET lease_expires_at = %s WHERE {guard}"  # noqa: S608
    if vendor == "mysql":
        return Step(f"SELECT id FROM {_JOB} WHERE {guard} FOR UPDATE", 1, answer=True), Step(update)  # noqa: S608
    return (Step(f"{update} RETURNING id"),)


@_statement
def release_unheld(vendor: str, n: Shape) -> tuple[Step, ...]:
    """Claims the database says a cluster made but that it does not hold (a claim whose commit
    it never saw, after a dropped connection): given back, attempt unspent; returns their ids.
    Parameters: status, run_after, note (the give-back's), cluster, older than, the held ids."""
    not_held = f" AND id NOT IN ({_marks(n['held'])})" if n.get("held") else ""
    guard = f"status = {_RUNNING} AND claimed_by = %s AND started_at IS NULL AND claimed_at < %s{not_held}"
    if vendor == "mysql":
        read = f"SELECT id FROM {_JOB} WHERE {guard} FOR UPDATE"  # noqa: S608
        return Step(read, 3, answer=True), Step(f"{_SET_GIVEN_BACK} WHERE {guard}")
    return (Step(f"{_SET_GIVEN_BACK} WHERE {guard} RETURNING id"),)


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _unit_join(jobs: int) -> str:
    """PostgreSQL's unit guard, as `_unit_guard` (the cluster, then (id, attempt) pairs), but
    a join: `(id, attempts) IN (VALUES ...)` was planned, without statistics on a job table
    just filled, as a nested loop over every running job for each pair (86 us a job of the
    server's time in a 3,000-job drain, a third of it). Joined on the id, it is planned as a
    hash join or a primary-key lookup per pair. The pairs' columns are named apart from the
    table's, which the SET clauses read unqualified."""
    pairs = ", ".join(["(%s::uuid, %s::integer)"] * jobs)
    return (
        f"FROM (VALUES (%s::varchar)) AS c(cluster), (VALUES {pairs}) AS v(job_id, attempt) "
        f"WHERE {_JOB}.id = v.job_id AND {_JOB}.attempts = v.attempt "
        f"AND {_JOB}.status = {_RUNNING} AND {_JOB}.claimed_by = c.cluster"
    )


def _unit_guard(jobs: int, vendor: str) -> str:
    """A unit's jobs, still running under the claims given: the cluster, then (id, attempt) pairs."""
    if vendor == "mysql":
        pairs = " OR ".join(["(id = %s AND attempts = %s)"] * jobs)
        return f"status = {_RUNNING} AND claimed_by = %s AND ({pairs})"
    pair = "(%s::uuid, %s::integer)" if vendor == "postgresql" else "(%s, %s)"
    return f"status = {_RUNNING} AND claimed_by = %s AND (id, attempts) IN (VALUES {', '.join([pair] * jobs)})"
