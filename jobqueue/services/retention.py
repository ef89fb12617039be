"""Retention: delete finished history older than each job type's `retention`, in bounded batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from jobqueue.config.effective import type_states
from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import (
    FINISHED,
    ClusterHeartbeat,
    Job,
    JobType,
    MetricHour,
    MetricMinute,
    PartitionTurn,
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
    operator. A workflow's jobs go together, never a part of one (its dependents read their
    dependencies' results, and the workflow is shown whole): when every job of it could go,
    in one transaction per batch of workflows. Deleting in batches keeps each transaction, and
    the locks it holds, short.
    """
    now = now or timezone.now()
    report = PruneReport()
    default = jobqueue_settings.DEFAULT_RETENTION
    retention = {s.type_id: s.config.retention or default for s in type_states().values()}
    cutoffs = {
        type_id: now - timedelta(seconds=retention.get(type_id, default))
        for type_id in JobType.objects.values_list("pk", flat=True)
    }
    budget = max_batches
    for type_id, cutoff in cutoffs.items():
        old = _expired(type_id, cutoff).filter(workflow_id__isnull=True).order_by("finished_at")
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
    if report.complete:
        budget = _prune_workflows(cutoffs, report, batch_size, budget)
    day_ago = now - timedelta(days=1)
    report.housekeeping += RateLimitStart.objects.filter(at__lt=day_ago).delete()[0]
    # A claim's row waits for its start; one whose job is no longer claimed would count forever.
    claimed = Job.objects.filter(status=Status.RUNNING).values("id")
    report.housekeeping += RateLimitStart.objects.filter(at__isnull=True).exclude(job_id__in=claimed).delete()[0]
    # A partition value without a turn (no job left when a claim looked); a row with a turn
    # may be all that makes its value's waiting jobs claimable, whatever its age.
    report.housekeeping += PartitionTurn.objects.filter(served_at__isnull=True).delete()[0]
    report.housekeeping += UniqueLock.objects.filter(expires_at__lt=now).delete()[0]
    report.housekeeping += ClusterHeartbeat.objects.filter(last_seen_at__lt=day_ago).delete()[0]
    # The rollup keeps its own history, longer than the jobs' (the metrics' windows outlive them).
    metrics_cutoff = now - timedelta(seconds=jobqueue_settings.METRICS_RETENTION)
    report.housekeeping += MetricMinute.objects.filter(minute__lt=metrics_cutoff).delete()[0]
    report.housekeeping += MetricHour.objects.filter(hour__lt=metrics_cutoff).delete()[0]
    return report


def _expired(type_id: int, cutoff: datetime) -> QuerySet[Job]:
    """The jobs of a type that retention may remove: finished before the cutoff, and not dead
    with a dead letter still waiting for an operator."""
    return Job.objects.filter(job_type_id=type_id, status__in=FINISHED, finished_at__lt=cutoff).exclude(
        Q(status=Status.DEAD) & Q(dead_letter__resolution="")
    )


def _prune_workflows(cutoffs: dict[int, datetime], report: PruneReport, batch_size: int, budget: int) -> int:
    """Delete whole workflows whose every job retention may remove (see `prune`)."""
    if not cutoffs:
        return budget
    # A job that keeps its workflow: not finished, finished within its type's retention, or
    # dead with an unresolved dead letter.
    recent = Q()
    for type_id, cutoff in cutoffs.items():
        recent |= Q(job_type_id=type_id, finished_at__gte=cutoff)
    keeps = (
        Job.objects.filter(workflow_id__isnull=False)
        .filter(
            ~Q(status__in=FINISHED)
            | Q(finished_at__isnull=True)
            | recent
            | (Q(status=Status.DEAD) & Q(dead_letter__resolution=""))
        )
        .values("workflow_id")
    )
    # Workflows with a job past the shortest retention; `keeps` rules out the rest.
    latest = max(cutoffs.values())
    candidates = (
        Job.objects.filter(workflow_id__isnull=False, status__in=FINISHED, finished_at__lt=latest)
        .exclude(workflow_id__in=keeps)
        .order_by()
        .values_list("workflow_id", flat=True)
        .distinct()
    )
    while True:
        flows = list(candidates[:batch_size])
        if not flows:
            return budget
        if budget == 0:
            report.complete = False
            return budget
        budget -= 1
        with transaction.atomic():
            report.jobs += Job.objects.filter(workflow_id__in=flows).delete()[1].get(Job._meta.label, 0)
