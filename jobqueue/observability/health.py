"""The health verdict (healthy, degraded or unhealthy) with its reasons, from metrics and rules.

Thresholds are JOBQUEUE settings (`HEALTH_*` in jobqueue.config.settings); each rule is a function
of a metrics Snapshot, so a rule is tested by building the history that triggers it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from jobqueue.config.effective import resolve_for
from jobqueue.config.options import Schedule
from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import JobType
from jobqueue.observability import metrics
from jobqueue.registry import registry


class Verdict(enum.StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


_ORDER = [Verdict.HEALTHY, Verdict.DEGRADED, Verdict.UNHEALTHY]


@dataclass(frozen=True)
class Reason:
    level: Verdict
    rule: str
    message: str
    job_type: str = ""  # the job type the reason is about, if one (the dashboard links to it)


@dataclass(frozen=True)
class Health:
    verdict: Verdict
    reasons: list[Reason] = field(default_factory=list)


def evaluate(snapshot: metrics.Snapshot) -> Health:
    """Apply every rule to a snapshot; the verdict is the worst level among the reasons."""
    reasons = [
        *_no_live_cluster(snapshot),
        *_old_ready_job(snapshot),
        *_failure_rates(snapshot),
        *_slow_types(snapshot),
        *_dead_letter_rate(snapshot),
        *_late_schedules(snapshot.now),
    ]
    verdict = max((r.level for r in reasons), key=_ORDER.index, default=Verdict.HEALTHY)
    return Health(verdict, reasons)


def check(window: str | None = None, now: datetime | None = None) -> Health:
    """The current health over the configured window."""
    return evaluate(metrics.snapshot(window or jobqueue_settings.HEALTH_WINDOW, now))


def _no_live_cluster(snapshot: metrics.Snapshot) -> list[Reason]:
    if snapshot.ready and not any(c.live for c in snapshot.clusters):
        return [
            Reason(
                Verdict.UNHEALTHY,
                "no_live_cluster",
                f"{snapshot.ready} job(s) are ready but no cluster has sent a heartbeat recently; start `manage.py qcluster`",
            )
        ]
    return []


def _old_ready_job(snapshot: metrics.Snapshot) -> list[Reason]:
    limit = jobqueue_settings.HEALTH_MAX_READY_AGE
    age = snapshot.oldest_ready_age
    if age is not None and age > limit:
        return [
            Reason(
                Verdict.DEGRADED,
                "old_ready_job",
                f"the oldest ready job has waited {age:.0f} s (threshold {limit:g} s)",
            )
        ]
    return []


def _failure_rates(snapshot: metrics.Snapshot) -> list[Reason]:
    reasons = []
    high, high_min = jobqueue_settings.HEALTH_FAILURE_RATE, jobqueue_settings.HEALTH_FAILURE_MIN_ATTEMPTS
    warn = jobqueue_settings.HEALTH_FAILURE_RATE_WARNING
    warn_min = jobqueue_settings.HEALTH_FAILURE_MIN_ATTEMPTS_WARNING
    for item in snapshot.types:
        rate, attempts = item.counts.failure_rate, item.counts.attempts
        if rate is None:
            continue
        text = f"job type {item.name}: {rate:.0%} of {attempts} attempts failed in the last {snapshot.window}"
        if rate > high and attempts > high_min:
            reasons.append(Reason(Verdict.UNHEALTHY, "failure_rate", text, item.name))
        elif rate > warn and attempts >= warn_min:
            reasons.append(Reason(Verdict.DEGRADED, "failure_rate", text, item.name))
    return reasons


def _slow_types(snapshot: metrics.Snapshot) -> list[Reason]:
    limit_ms = jobqueue_settings.HEALTH_MAX_AVG_DURATION * 1000
    return [
        Reason(
            Verdict.DEGRADED,
            "slow_type",
            f"job type {item.name}: attempts take {item.duration.mean / 1000:.1f} s on average "
            f"(threshold {limit_ms / 1000:g} s)",
            item.name,
        )
        for item in snapshot.types
        if item.duration.mean is not None and item.duration.mean > limit_ms
    ]


def _dead_letter_rate(snapshot: metrics.Snapshot) -> list[Reason]:
    limit = jobqueue_settings.HEALTH_DEAD_LETTER_RATE
    counts = snapshot.total.counts
    rate = counts.dead_letter_rate
    finished = counts.succeeded + counts.dead_lettered + counts.skipped
    if rate is not None and rate > limit and finished >= jobqueue_settings.HEALTH_FAILURE_MIN_ATTEMPTS_WARNING:
        return [
            Reason(
                Verdict.DEGRADED,
                "dead_letter_rate",
                f"{rate:.0%} of the {finished} jobs finished in the last {snapshot.window} were dead-lettered",
            )
        ]
    return []


def schedule_interval(schedule: Schedule, now: datetime) -> float:
    """Seconds between two runs of a schedule (for a cron expression, the next two fire times)."""
    if schedule.interval is not None:
        return float(schedule.interval)
    from croniter import croniter

    it = croniter(schedule.cron, now)
    first = it.get_next(datetime)
    return float((it.get_next(datetime) - first).total_seconds())


def _late_schedules(now: datetime) -> list[Reason]:
    factor = jobqueue_settings.HEALTH_SCHEDULE_LATE_FACTOR
    reasons = []
    for record in JobType.objects.registered():
        if record.name not in registry:
            continue
        config = resolve_for(registry.get(record.name), record)
        if config.schedule is None or not config.enabled:
            continue
        interval = schedule_interval(config.schedule, now)
        last = metrics.last_run(record) or record.created_at
        if now - last > timedelta(seconds=factor * interval):
            when = (
                "has never run"
                if metrics.last_run(record) is None
                else f"last ran {timezone.localtime(last):%Y-%m-%d %H:%M:%S}"
            )
            reasons.append(
                Reason(
                    Verdict.DEGRADED,
                    "late_schedule",
                    f"scheduled job type {record.name} {when}; it should run every {interval:g} s",
                    record.name,
                )
            )
    return reasons
