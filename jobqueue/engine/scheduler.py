"""Schedules: turn each due interval or cron slot into exactly one job, across all clusters.

Every cluster calls `tick()` about once a second. A slot is taken with a conditional UPDATE
of the type's ScheduleState (`last_slot` still equal to what this cluster read), so however
many clusters tick at once, one of them enqueues the slot's job. Interval slots are aligned
to the epoch (they never drift with tick timing); cron slots are computed in the schedule's
time zone. After downtime the missed slots are not replayed one by one: at most
`SCHEDULE_CATCH_UP` jobs (default 1) stand for all of them, and the skip is recorded.
"""

from __future__ import annotations

import logging
import math
import zoneinfo
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError
from django.utils import timezone

from jobqueue.config.effective import TypeState, type_states
from jobqueue.config.options import Schedule
from jobqueue.config.settings import django_setting, jobqueue_settings
from jobqueue.engine import sql
from jobqueue.engine.enqueue import enqueue
from jobqueue.exceptions import PayloadValidationError
from jobqueue.models import ACTIVE, Job, ScheduleState

logger = logging.getLogger("jobqueue")

SCHEDULED_BY = "schedule"
_MAX_CRON_COUNT = 10_000


def latest_slot(schedule: Schedule, tz_name: str | None, now: datetime) -> datetime:
    """The most recent slot at or before `now`."""
    if schedule.interval:
        seconds = math.floor(now.timestamp() / schedule.interval) * schedule.interval
        return datetime.fromtimestamp(seconds, tz=UTC)
    from croniter import croniter

    tz = zoneinfo.ZoneInfo(tz_name or django_setting("TIME_ZONE") or "UTC")
    local = now.astimezone(tz) + timedelta(microseconds=1)
    previous: datetime = croniter(schedule.cron, local).get_prev(datetime)
    return previous.astimezone(UTC)


def slots_between(schedule: Schedule, tz_name: str | None, after: datetime, until: datetime) -> int:
    """How many slots fall in (after, until]."""
    if schedule.interval:
        return max(0, round((until - after).total_seconds() / schedule.interval))
    from croniter import croniter

    tz = zoneinfo.ZoneInfo(tz_name or django_setting("TIME_ZONE") or "UTC")
    iterator = croniter(schedule.cron, after.astimezone(tz))
    count = 0
    while count < _MAX_CRON_COUNT and iterator.get_next(datetime) <= until:
        count += 1
    return count


def next_slot(now: datetime) -> datetime | None:
    """When the earliest enabled schedule falls due next (idle clusters sleep no longer)."""
    upcoming = []
    for state in type_states().values():
        config = state.config
        if config.enabled and config.schedule is not None:
            slot = latest_slot(config.schedule, config.schedule_timezone, now)
            if config.schedule.interval:
                upcoming.append(slot + timedelta(seconds=config.schedule.interval))
            else:
                from croniter import croniter

                tz = zoneinfo.ZoneInfo(config.schedule_timezone or django_setting("TIME_ZONE") or "UTC")
                following = croniter(config.schedule.cron, slot.astimezone(tz)).get_next(datetime)
                upcoming.append(following.astimezone(UTC))
    return min(upcoming, default=None)


def tick(now: datetime | None = None) -> list[Job]:
    """Enqueue the jobs of every schedule that fell due; returns the jobs enqueued here."""
    now = now or timezone.now()
    enqueued: list[Job] = []
    for state in type_states().values():
        config = state.config
        if not config.enabled or config.schedule is None:
            continue
        try:
            enqueued += _tick_one(state, config.schedule, now)
        except Exception:  # one broken schedule must not stop the others
            logger.exception("schedule of job type %s failed", state.definition.name)
    return enqueued


def _state_row(state: TypeState) -> ScheduleState:
    try:
        row, _ = ScheduleState.objects.get_or_create(job_type_id=state.type_id)
    except IntegrityError:  # another cluster created it at the same moment
        row = ScheduleState.objects.get(job_type_id=state.type_id)
    return row


def _tick_one(state: TypeState, schedule: Schedule, now: datetime) -> list[Job]:
    config = state.config
    slot = latest_slot(schedule, config.schedule_timezone, now)
    row = _state_row(state)
    if row.last_slot is None:
        # A schedule seen for the first time starts at its next slot, without a run for the past.
        ScheduleState.objects.filter(pk=row.pk, last_slot__isnull=True).update(last_slot=slot)
        return []
    if slot <= row.last_slot:
        return []
    with sql.write_transaction():
        if not ScheduleState.objects.filter(pk=row.pk, last_slot=row.last_slot).update(last_slot=slot):
            return []  # another cluster took this slot
        missed = max(1, slots_between(schedule, config.schedule_timezone, row.last_slot, slot))
        runs = 1 if missed == 1 else min(missed, jobqueue_settings.SCHEDULE_CATCH_UP)
        reason = f"{missed - runs} missed slot(s) not replayed" if runs < missed else ""
        if runs and not config.overlap and _previous_alive(state):
            runs, reason = 0, "previous run still queued or running (overlap=False)"
        try:
            jobs = [enqueue(state.definition, {}, created_by=SCHEDULED_BY) for _ in range(runs)]
        except PayloadValidationError as exc:
            # A schedule set on the record (or pinned) for a type that needs a payload:
            # the slot is spent and the reason recorded, instead of failing every tick.
            jobs, reason = [], f"cannot enqueue with an empty payload: {exc}"
        changes: dict[str, object] = {}
        if jobs:
            changes.update(last_job=jobs[-1], last_enqueued_at=now)
        if reason:
            changes.update(skipped=row.skipped + 1, last_skip_at=now, last_skip_reason=reason[:255])
            logger.info("schedule of %s: %s", state.definition.name, reason)
        if changes:
            ScheduleState.objects.filter(pk=row.pk).update(**changes)
    return jobs


def _previous_alive(state: TypeState) -> bool:
    return Job.objects.filter(job_type_id=state.type_id, created_by=SCHEDULED_BY, status__in=ACTIVE).exists()
