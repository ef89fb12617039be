"""Bulk enqueue: many jobs in one transaction, all or nothing, validated a job type at a time.

`enqueue_many` gives every job what `enqueue` gives it (the payload validated and stored in
its JSON form, the type's priority and attempts, placement checked) but does the per-job
work once per batch where it can: each job type's payloads go through one pydantic
validation of a list, the rows are built without `Model.__init__`, and `inserts.insert`
writes 500 rows per statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import pydantic
from django.utils import timezone

from jobqueue import tracing
from jobqueue.config.effective import TypeState, type_state
from jobqueue.config.options import placement_errors
from jobqueue.engine import inserts, sql, turns
from jobqueue.engine.enqueue import JobTypeRef, enqueue_built, inserted, job_row, unique_key_for
from jobqueue.exceptions import JobQueueError, PayloadValidationError, UnknownJobTypeError
from jobqueue.models import Job
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


_KNOWN = frozenset({"type", "job_type", "payload", "priority", "run_after", "delay", "unique_key"})
# One list validator per payload model (pydantic builds it once; a model is never redefined).
_list_adapters: dict[type[pydantic.BaseModel], pydantic.TypeAdapter[list[Any]]] = {}


def enqueue_many(items: Iterable[EnqueueRequest | Mapping[str, Any]], *, created_by: str = "") -> list[Job]:
    """Enqueue many jobs in one transaction, all or nothing; errors come back per item index."""
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
    values: list[dict[str, Any]] = []
    for index, request in requests.items():
        definition = definitions[index]
        state = states.get(definition.name) or type_state(definition.name)
        row = _row(request, state, payloads.get(index), created_by, now, errors, index)
        if row is not None:
            values.append(row)
    if errors:
        raise BulkEnqueueError(dict(sorted(errors.items())))
    if not values:
        return []
    names = {d.name for d in definitions.values()}
    with tracing.enqueuing(names.pop() if len(names) == 1 else "many types", len(values)) as trace_context:
        jobs = [inserts.build(Job, row) for row in values]
        if trace_context is not None:
            for job in jobs:
                job.trace_context = trace_context
        if any(j.unique_key is not None for j in jobs):
            # Unique jobs go one by one so that each duplicate resolves to its holder.
            with sql.write_transaction():
                return [enqueue_built(j) for j in jobs]
        with sql.write_transaction():
            inserts.insert(jobs)
            turns.fill_jobs(jobs)  # one upsert per 300 distinct values, after the jobs
            inserted(jobs)
    return jobs


def _request(item: Mapping[str, Any]) -> EnqueueRequest:
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
        elif isinstance(data, pydantic.BaseModel):
            data = data.model_dump(mode="json")
        if not isinstance(data, Mapping):
            errors[index] = {"payload": [f"must be a JSON object, not {type(data).__name__}"]}
            continue
        groups.setdefault(definition.payload_model, []).append((index, dict(data)))
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
        for (index, _), model_payload, payload in zip(members, validated, dumped, strict=True):
            found[index] = (payload, definitions[index].partition_of(model_payload))
    return found


def _row(
    request: EnqueueRequest,
    state: TypeState,
    payload: tuple[dict[str, Any], str] | None,
    created_by: str,
    now: datetime,
    errors: dict[int, dict[str, list[str]]],
    index: int,
) -> dict[str, Any] | None:
    """The new Job's fields (what `enqueue.build_job` sets), or None with the item's errors added."""
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
    chosen = state.config.priority if priority is None else priority
    return job_row(state, payload_json, partition_key, chosen, run_after or now, now, unique_key, created_by)
