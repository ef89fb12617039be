"""The partition values that may have waiting work (`PartitionTurn`), kept from the writes
that give a value a job: every enqueue of a partitioned job (single, unique, bulk, workflow,
re-run) and every dependent re-armed from cancelled. The claim reads the values in turn
order and clears the turn of a value it finds without any job (`engine.claim`).

`fill()` upserts one row per distinct value, in the transaction that writes the jobs, after
them: the row's `fills` goes up by one, and a value without a turn gets one (never served).
A claim clears a turn only if `fills` is what it was when the claim found the value without
jobs, read again under the row's lock, so a fill racing that claim is never lost (the
reasoning, per database, is in `engine.claim`'s docstring).
"""

from __future__ import annotations

from collections.abc import Iterable

from jobqueue.config.effective import type_states
from jobqueue.engine import sql
from jobqueue.models import Job
from jobqueue.models.partitions import NEVER_SERVED

# Values per statement at most (three parameters each).
VALUES_PER_FILL = 300


def partitioned_type_ids() -> set[int]:
    """The ids of the registered job types that have a partition key."""
    return {s.type_id for s in type_states().values() if s.definition.partition is not None}


def values_of(jobs: Iterable[Job]) -> list[tuple[int, str]]:
    """The distinct (type id, partition) of the given jobs of partitioned types, in key order."""
    keyed = partitioned_type_ids()
    if not keyed:
        return []
    return sorted({(job.job_type_id, job.partition_key) for job in jobs if job.job_type_id in keyed})


def fill(values: list[tuple[int, str]]) -> None:
    """Give these (type id, partition) values a turn and one more fill (see the module
    docstring). In the caller's transaction; `values` in key order."""
    never = sql.when(NEVER_SERVED)
    for start in range(0, len(values), VALUES_PER_FILL):
        chunk = values[start : start + VALUES_PER_FILL]
        sql.run("fill_turns", [p for tid, key in chunk for p in (never, tid, key)], values=len(chunk))


def fill_jobs(jobs: Iterable[Job]) -> None:
    """`fill()` for the values of these jobs (none when no type is partitioned)."""
    values = values_of(jobs)
    if values:
        fill(values)
