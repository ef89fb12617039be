"""Operator actions on a workflow as one thing: cancel what has not finished."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from jobqueue.engine import dependencies
from jobqueue.exceptions import InvalidStateError
from jobqueue.models import WAITING, Job, Status
from jobqueue.services.audit import Actor, record


@dataclass(frozen=True)
class WorkflowCancelled:
    cancelled: int  # waiting and blocked jobs, now cancelled
    cancel_requested: int  # running jobs asked to stop (they see ctx.is_cancelled())


def cancel_workflow(workflow_id: str, *, by: Actor, reason: str = "") -> WorkflowCancelled:
    """Cancel every job of the workflow that has not finished: waiting and blocked ones at once,
    running ones by asking them to stop. Raises InvalidStateError for an unknown workflow."""
    key = uuid.UUID(workflow_id)
    jobs = Job.objects.filter(workflow_id=key)
    first = jobs.order_by("created_at").first()
    if first is None:
        raise InvalidStateError(f"no workflow {workflow_id}: no job carries that workflow id")
    now = timezone.now()
    with transaction.atomic():
        pending = jobs.filter(status__in=[*WAITING, Status.BLOCKED])
        ids = [str(pk) for pk in pending.values_list("pk", flat=True)]
        cancelled = pending.update(status=Status.CANCELLED, finished_at=now, cancel_requested_at=now)
        asked = jobs.filter(status=Status.RUNNING, cancel_requested_at__isnull=True).update(cancel_requested_at=now)
        dependencies.resolve(ids, now)  # none is left blocked, but a running job's dependents wait
        record(by, first, "cancel workflow", reason, f"workflow {workflow_id}: {cancelled} cancelled, {asked} asked")
    return WorkflowCancelled(cancelled, asked)
