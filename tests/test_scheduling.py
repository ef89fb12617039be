"""Schedules with a fixed clock: slots, cron time zones, overlap, catch-up, record edits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from jobqueue.config.options import Schedule
from jobqueue.engine.scheduler import latest_slot, slots_between, tick
from jobqueue.models import Job, JobType, ScheduleState, Status
from jobqueue.services import update_job_type

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 12, 0, 0, 500000, tzinfo=UTC)


def ours(jobs: list[Job], name: str) -> list[Job]:
    # The built-in jobqueue_prune schedule fires too when the clock jumps; look at one type.
    return [j for j in jobs if j.job_type.name == name]


def enable(name: str, **changes: object) -> None:
    update_job_type(JobType.objects.get(name=name), {"enabled": True, **changes})


def scheduled(name: str) -> int:
    return Job.objects.filter(job_type__name=name, created_by="schedule").count()


def test_interval_slots_are_aligned_and_do_not_drift() -> None:
    every_10 = Schedule(interval=10)
    assert latest_slot(every_10, None, T0) == datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
    assert latest_slot(every_10, None, T0 + timedelta(seconds=9.4)) == datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
    assert latest_slot(every_10, None, T0 + timedelta(seconds=9.6)) == datetime(2026, 3, 2, 12, 0, 10, tzinfo=UTC)
    assert slots_between(every_10, None, T0, T0 + timedelta(seconds=60)) == 6


def test_cron_fires_at_the_right_minute_in_its_time_zone() -> None:
    cron = Schedule(cron="30 9 * * *")
    # 09:30 in New York on 2 March 2026 (EST, UTC-5) is 14:30 UTC.
    assert latest_slot(cron, "America/New_York", datetime(2026, 3, 2, 14, 31, tzinfo=UTC)) == datetime(
        2026, 3, 2, 14, 30, tzinfo=UTC
    )
    # After the switch to daylight time (8 March 2026), it is 13:30 UTC.
    assert latest_slot(cron, "America/New_York", datetime(2026, 3, 9, 13, 31, tzinfo=UTC)) == datetime(
        2026, 3, 9, 13, 30, tzinfo=UTC
    )


def test_cron_schedule_enqueues_once_per_slot() -> None:
    enable("morning_report")
    assert ours(tick(datetime(2026, 3, 2, 14, 0, tzinfo=UTC)), "morning_report") == []  # no run for the past
    assert ours(tick(datetime(2026, 3, 2, 14, 29, tzinfo=UTC)), "morning_report") == []
    assert len(ours(tick(datetime(2026, 3, 2, 14, 30, 1, tzinfo=UTC)), "morning_report")) == 1
    assert ours(tick(datetime(2026, 3, 2, 14, 30, 2, tzinfo=UTC)), "morning_report") == []  # same slot
    assert scheduled("morning_report") == 1


def test_interval_schedule_one_job_per_slot() -> None:
    enable("ticker")
    tick(T0)
    for second in range(1, 6):
        tick(T0 + timedelta(seconds=second))
        tick(T0 + timedelta(seconds=second, milliseconds=100))  # a second cluster, same slot
    assert scheduled("ticker") == 5


def test_downtime_runs_one_catch_up_job_and_records_the_skip() -> None:
    enable("ticker")
    tick(T0)
    assert len(ours(tick(T0 + timedelta(seconds=100)), "ticker")) == 1
    state = ScheduleState.objects.get(job_type__name="ticker")
    assert state.skipped == 1
    assert "99 missed" in state.last_skip_reason


@override_settings(JOBQUEUE={"SCHEDULE_CATCH_UP": 0})
def test_catch_up_can_be_switched_off() -> None:
    enable("ticker")
    tick(T0)
    assert ours(tick(T0 + timedelta(seconds=100)), "ticker") == []
    assert ours(tick(T0 + timedelta(seconds=101)), "ticker") != []  # the next regular slot runs


def test_overlap_false_skips_while_the_previous_run_is_alive() -> None:
    enable("slow_scheduled")
    tick(T0)
    assert len(ours(tick(T0 + timedelta(seconds=1)), "slow_scheduled")) == 1
    assert ours(tick(T0 + timedelta(seconds=2)), "slow_scheduled") == []
    assert "overlap=False" in ScheduleState.objects.get(job_type__name="slow_scheduled").last_skip_reason
    Job.objects.filter(job_type__name="slow_scheduled").update(status=Status.SUCCEEDED)
    assert len(ours(tick(T0 + timedelta(seconds=3)), "slow_scheduled")) == 1


def test_a_schedule_edited_on_the_record_takes_effect() -> None:
    enable("ticker", schedule="10")
    tick(T0)
    for second in range(1, 21):
        tick(T0 + timedelta(seconds=second))
    assert scheduled("ticker") == 2
    update_job_type(JobType.objects.get(name="ticker"), {"schedule": "off"})
    tick(T0 + timedelta(seconds=40))
    assert scheduled("ticker") == 2


def test_disabled_types_are_not_scheduled() -> None:
    tick(T0)
    tick(T0 + timedelta(seconds=5))
    assert scheduled("ticker") == 0


def test_a_schedule_on_the_record_needs_a_payload_free_type() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        update_job_type(JobType.objects.get(name="echo"), {"schedule": "60"})
    assert "empty payload" in str(caught.value.message_dict["schedule"])


def test_next_slot_of_a_cron_in_another_time_zone_is_in_the_future() -> None:
    from jobqueue.engine.scheduler import next_slot

    enable("morning_report")
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # after 09:30 New York
    # The earliest slot of every enabled schedule (built-in ones included): never in the past.
    assert next_slot(now) > now
