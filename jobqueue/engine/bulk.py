"""Bulk enqueue: many jobs in one transaction, all or nothing, validated a job type at a time.

`enqueue_many` gives every job what `enqueue` gives it (the payload validated and stored in
its JSON form, the type's priority and attempts, placement checked) but does the per-job
work once per batch where it can: each job type's payloads go through one pydantic
validation of a list, and the rows are kept as columns (`engine.bulkrows`), a value every
row shares converted once, and written by COPY on PostgreSQL, by multi-row INSERTs elsewhere.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import pydantic
from django.utils import timezone

from jobqueue import tracing
from jobqueue.config.effective import TypeState, type_state
from jobqueue.config.options import placement_errors
from jobqueue.engine import bulkrows, sql, turns
from jobqueue.engine.enqueue import JobTypeRef, enqueue_built, inserted, unique_key_for
from jobqueue.exceptions import JobQueueError, PayloadValidationError, UnknownJobTypeError
from jobqueue.models import Job, Status
from jobqueue.registry import JobDefinition, resolve_definition


class BulkEnqueueError(JobQueueError, ValueError):
    """Some items of an `enqueue_many` call are invalid; nothing was written.

    `errors` maps each bad item's index to {field path: [messages]}.
    """

    def __init__(self, errors: dict[int, dict[str, list[str]]]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} invalid item(s), nothing enqueued: indexes {sorted(errors)}")


class EnqueueRequest(NamedTuple):
    """One item of `enqueue_many` (a mapping with these keys, `type` for `job_type`, is one too)."""

    job_type: JobTypeRef
    payload: Any = None
    priority: int | None = None
    run_after: datetime | None = None
    delay: float | timedelta | None = None
    unique_key: str | None = None


_new_request = tuple.__new__
_KNOWN = frozenset({"type", "job_type", "payload", "priority", "run_after", "delay", "unique_key"})
# One list validator per payload model (pydantic builds it once; a model is never redefined).
_list_adapters: dict[type[pydantic.BaseModel], pydantic.TypeAdapter[list[Any]]] = {}


def enqueue_many(items: Iterable[EnqueueRequest | Mapping[str, Any]], *, created_by: str = "") -> list[Job]:
    """Enqueue many jobs in one transaction, all or nothing; errors come back per item index."""
    with _collector_paused():
        return _enqueue_many(items, created_by)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the call, if it was on (and on again after).

    A call makes several container objects per job (its request, the validated payload, the
    row, the returned `Job` with its state and id), all alive until it returns, none in a
    cycle: every collection the allocations set off during the call finds nothing to free, and
    moves them all to an older generation, so that every few dozen calls a full collection
    walks the whole heap of the process (30-40 ms on a Django process; measured, a sixth of
    the time of 100 calls of 500, and most of the first call's when the heap left by start-up
    is due for one). Freed by reference counting once the caller lets them go, they never
    reach a collection at all. Never turned on here if the process had it off (a thread that
    turns it off while a call runs in another finds it on again after that call)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _enqueue_many(items: Iterable[EnqueueRequest | Mapping[str, Any]], created_by: str) -> list[Job]:
    now = timezone.now()
    errors: dict[int, dict[str, list[str]]] = {}
    requests: dict[int, EnqueueRequest] = {}
    definitions: dict[int, JobDefinition] = {}
    known: dict[Any, JobDefinition] = {}  # job type as given -> definition, resolved once per call
    for index, item in enumerate(items):
        try:
            request = item if isinstance(item, EnqueueRequest) else _request(item)
            ref = request.job_type
            definition = known.get(ref) if isinstance(ref, str) else None
            if definition is None:
                definition = resolve_definition(ref)
                type_state(definition.name)  # an unregistered or orphaned type is refused here
                if isinstance(ref, str):
                    known[ref] = definition
        except PayloadValidationError as exc:
            errors[index] = exc.errors
            continue
        except UnknownJobTypeError as exc:
            errors[index] = {"type": [str(exc)]}
            continue
        requests[index], definitions[index] = request, definition
    payloads = _payloads(requests, definitions, errors)
    states = {d.name: type_state(d.name) for d in known.values()}
    rows: list[tuple[Any, ...]] = []
    for index, request in requests.items():
        definition = definitions[index]
        state = states.get(definition.name) or type_state(definition.name)
        row = _row(request, state, payloads.get(index), now, errors, index)
        if row is not None:
            rows.append(row)
    if errors:
        raise BulkEnqueueError(dict(sorted(errors.items())))
    count = len(rows)
    if not count:
        return []
    columns = {name: list(values) for name, values in zip(_VARYING, zip(*rows, strict=True), strict=True)}
    names = {d.name for d in definitions.values()}
    with tracing.enqueuing(names.pop() if len(names) == 1 else "many types", count) as trace_context:
        shared = {"created_at": now, "created_by": created_by[:150]}
        if trace_context is not None:
            shared["trace_context"] = trace_context
        new = bulkrows.JobColumns(count, columns, shared)
        if any(key is not None for key in columns["unique_key"]):
            # Unique jobs go one by one so that each duplicate resolves to its holder.
            with sql.write_transaction():
                return [enqueue_built(j) for j in new.instances(saved=False)]
        with sql.write_transaction():
            jobs = bulkrows.write(new)
            turns.fill_jobs(jobs)  # one upsert per 300 distinct values, after the jobs
            inserted(jobs)
    return jobs


def _request(item: Mapping[str, Any]) -> EnqueueRequest:
    if type(item) is dict and item.keys() <= _KNOWN:  # the usual item, without the ABC checks below
        get = item.get
        # tuple.__new__ directly: a NamedTuple's own __new__ is a Python function of these.
        return _new_request(
            EnqueueRequest,
            (
                get("type") or get("job_type") or "",
                get("payload"),
                get("priority"),
                get("run_after"),
                get("delay"),
                get("unique_key"),
            ),
        )
    if not isinstance(item, Mapping):
        raise PayloadValidationError(
            "", {"item": [f"must be an EnqueueRequest or a mapping, not {type(item).__name__}"]}
        )
    unknown = item.keys() - _KNOWN
    if unknown:
        raise PayloadValidationError(
            str(item.get("type", "")), {name: [f"unknown field; allowed: {sorted(_KNOWN)}"] for name in sorted(unknown)}
        )
    return EnqueueRequest(
        job_type=item.get("type") or item.get("job_type") or "",
        payload=item.get("payload"),
        priority=item.get("priority"),
        run_after=item.get("run_after"),
        delay=item.get("delay"),
        unique_key=item.get("unique_key"),
    )


def _payloads(
    requests: dict[int, EnqueueRequest], definitions: dict[int, JobDefinition], errors: dict[int, dict[str, list[str]]]
) -> dict[int, tuple[dict[str, Any], str]]:
    """Each request's payload in its stored JSON form and its partition, validated one list
    per payload model (the same validation and dump as `enqueue.build_job`); errors go into
    `errors`."""
    groups: dict[type[pydantic.BaseModel], list[tuple[int, dict[str, Any]]]] = {}
    for index, request in requests.items():
        definition = definitions[index]
        data = request.payload
        if data is None:
            data = {}
        elif type(data) is not dict:  # a dict as it is, without the ABC checks below
            if isinstance(data, pydantic.BaseModel):
                data = data.model_dump(mode="json")
            if not isinstance(data, Mapping):
                errors[index] = {"payload": [f"must be a JSON object, not {type(data).__name__}"]}
                continue
            data = dict(data)
        groups.setdefault(definition.payload_model, []).append((index, data))
    found: dict[int, tuple[dict[str, Any], str]] = {}
    for model, members in groups.items():
        adapter = _list_adapters.get(model)
        if adapter is None:
            adapter = _list_adapters[model] = pydantic.TypeAdapter(list[model])  # type: ignore[valid-type]
        try:
            validated = adapter.validate_python([data for _, data in members])
            dumped = adapter.dump_python(validated, mode="json")
        except pydantic.ValidationError as exc:
            for err in exc.errors():
                position, *path = err.get("loc", ())
                field = ".".join(str(part) for part in path)
                key = f"payload.{field}" if field else "payload"
                errors.setdefault(members[int(position)][0], {}).setdefault(key, []).append(
                    str(err.get("msg", "invalid value"))
                )
            continue
        if any(definitions[index].partition is not None for index, _ in members):
            for (index, _), model_payload, payload in zip(members, validated, dumped, strict=True):
                found[index] = (payload, definitions[index].partition_of(model_payload))
        else:
            found.update((index, (payload, "")) for (index, _), payload in zip(members, dumped, strict=True))
    return found


# The fields of a new job that `_row` gives, in its order; every other field is shared by
# the call's jobs (their moment, who made them) or takes its default.
_SCHEDULED, _QUEUED = Status.SCHEDULED, Status.QUEUED  # read once: an enum member's lookup is a call
_VARYING = ("job_type_id", "payload", "partition_key", "priority", "status", "max_attempts", "run_after", "unique_key")


def _row(
    request: EnqueueRequest,
    state: TypeState,
    payload: tuple[dict[str, Any], str] | None,
    now: datetime,
    errors: dict[int, dict[str, list[str]]],
    index: int,
) -> tuple[Any, ...] | None:
    """The new job's `_VARYING` fields (what `enqueue.build_job` sets), or None with the item's errors added."""
    priority, run_after = request.priority, request.run_after
    if priority is not None or run_after is not None or request.delay is not None or request.unique_key is not None:
        priority, run_after, placement = placement_errors(
            priority=priority, run_after=run_after, delay=request.delay, unique_key=request.unique_key, now=now
        )
        if placement:
            errors.setdefault(index, {}).update(placement)
    if payload is None or index in errors:
        return None
    payload_json, partition_key = payload
    unique_key = request.unique_key
    if unique_key is None and state.definition.unique is not None:
        unique_key = unique_key_for(state.definition, payload_json)
    run_after = run_after or now
    return (
        state.type_id,
        payload_json,
        partition_key,
        state.config.priority if priority is None else priority,
        _SCHEDULED if run_after > now else _QUEUED,
        state.config.max_attempts,
        run_after,
        unique_key,
    )
