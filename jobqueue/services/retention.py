"""Retention: delete finished history older than each job type's `retention`, in bounded batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from jobqueue.config.effective import type_states
from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import (
    ACTIVE,
    FINISHED,
    ClusterHeartbeat,
    Job,
    JobType,
    MetricHour,
    MetricMinute,
    RateLimitStart,
    Status,
    UniqueLock,
)


@dataclass
class PruneReport:
    jobs: int = 0
    housekeeping: int = 0
    complete: bool = True  # False when the batch budget ran out before everything old was gone


def prune(now: datetime | None = None, *, batch_size: int = 1000, max_batches: int = 100) -> PruneReport:
    """Delete finished jobs (with their attempts and dead letters) past their type's retention.

    A dead job whose dead letter is unresolved is kept whatever its age: it still needs an
    operator. A job of a workflow is kept while any job of that workflow has not finished (its
    dependents read its result, and the workflow is shown whole). Deleting in batches keeps each transaction, and the locks it holds, short.
    """
    now = now or timezone.now()
    report = PruneReport()
    default = jobqueue_settings.DEFAULT_RETENTION
    retention = {s.type_id: s.config.retention or default for s in type_states().values()}
    budget = max_batches
    unfinished = [*ACTIVE, Status.BLOCKED]
    live_workflows = Job.objects.filter(status__in=unfinished, workflow_id__isnull=False).values("workflow_id")
    for type_id in JobType.objects.values_list("pk", flat=True):
        cutoff = now - timedelta(seconds=retention.get(type_id, default))
        old = (
            Job.objects.filter(job_type_id=type_id, status__in=FINISHED, finished_at__lt=cutoff)
            .exclude(Q(status=Status.DEAD) & Q(dead_letter__resolution=""))
            .exclude(workflow_id__in=live_workflows)
            .order_by("finished_at")
        )
        while True:
            ids = list(old.values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            if budget == 0:
                report.complete = False
                break
            budget -= 1
            Job.objects.filter(pk__in=ids).delete()
            report.jobs += len(ids)
        if not report.complete:
            break
    day_ago = now - timedelta(days=1)
    report.housekeeping += RateLimitStart.objects.filter(at__lt=day_ago).delete()[0]
    # A claim's row waits for its start; one whose job is no longer claimed would count forever.
    claimed = Job.objects.filter(status=Status.RUNNING).values("id")
    report.housekeeping += RateLimitStart.objects.filter(at__isnull=True).exclude(job_id__in=claimed).delete()[0]
    report.housekeeping += UniqueLock.objects.filter(expires_at__lt=now).delete()[0]
    report.housekeeping += ClusterHeartbeat.objects.filter(last_seen_at__lt=day_ago).delete()[0]
    # The rollup keeps its own history, longer than the jobs' (the metrics' windows outlive them).
    metrics_cutoff = now - timedelta(seconds=jobqueue_settings.METRICS_RETENTION)
    report.housekeeping += MetricMinute.objects.filter(minute__lt=metrics_cutoff).delete()[0]
    report.housekeeping += MetricHour.objects.filter(hour__lt=metrics_cutoff).delete()[0]
    return report
