"""Workflows as one thing: the list of workflows and one workflow's jobs and edges, for the
API and the admin's graph."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, Min

from jobqueue.models import FINISHED, Dependency, Job, Status


@dataclass(frozen=True)
class WorkflowJob:
    id: str
    type: str
    status: str
    created_at: datetime
    finished_at: datetime | None
    last_error: str


@dataclass(frozen=True)
class WorkflowSummary:
    id: str
    jobs: int
    created_at: datetime
    updated_at: datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """`running` while a job has not finished; else `succeeded` if all did, else `failed`."""
        if any(n for s, n in self.counts.items() if s not in FINISHED):
            return "running"
        return "succeeded" if self.counts.get(Status.SUCCEEDED, 0) == self.jobs else "failed"


@dataclass(frozen=True)
class WorkflowDetail:
    summary: WorkflowSummary
    jobs: list[WorkflowJob]
    edges: list[tuple[str, str, bool]]  # (job, the job it waits for, ignore_failure)


def parse_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def workflows(limit: int = 100) -> list[WorkflowSummary]:
    """The newest workflows first."""
    groups = (
        Job.objects.filter(workflow_id__isnull=False)
        .values("workflow_id")
        .annotate(n=Count("id"), first=Min("created_at"), last=Max("created_at"))
        .order_by("-first")[:limit]
    )
    ids = [g["workflow_id"] for g in groups]
    counts: dict[str, dict[str, int]] = {}
    per_status = Job.objects.filter(workflow_id__in=ids).values_list("workflow_id", "status").annotate(n=Count("id"))
    for workflow_id, status, n in per_status:
        counts.setdefault(str(workflow_id), {})[status] = n
    return [
        WorkflowSummary(str(g["workflow_id"]), g["n"], g["first"], g["last"], counts.get(str(g["workflow_id"]), {}))
        for g in groups
    ]


def workflow(workflow_id: str) -> WorkflowDetail | None:
    """One workflow's jobs (oldest first) and edges; None if no job has that id."""
    rows = list(
        Job.objects.filter(workflow_id=uuid.UUID(workflow_id))
        .order_by("created_at", "id")
        .values_list("id", "job_type__name", "status", "created_at", "finished_at", "last_error")
    )
    if not rows:
        return None
    jobs = [WorkflowJob(str(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    ends = [j.finished_at or j.created_at for j in jobs]
    summary = WorkflowSummary(workflow_id, len(jobs), jobs[0].created_at, max(ends), counts)
    edges = [
        (str(a), str(b), bool(c))
        for a, b, c in Dependency.objects.filter(job__workflow_id=uuid.UUID(workflow_id)).values_list(
            "job_id", "on_id", "ignore_failure"
        )
    ]
    return WorkflowDetail(summary, jobs, edges)
