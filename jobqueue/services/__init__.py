"""Every state change of job types, jobs and dead letters; the admin, API and CLI call only these."""

from jobqueue.engine.bulk import BulkEnqueueError, EnqueueRequest, enqueue_many
from jobqueue.engine.enqueue import enqueue
from jobqueue.services.control import GroupOutcome, discard_group, pause, requeue_group, resume
from jobqueue.services.operations import cancel, discard_dead_letter, requeue_dead_letter, rerun, run_now
from jobqueue.services.retention import PruneReport, prune
from jobqueue.services.types import SyncReport, sync_job_type, sync_job_types, update_job_type
from jobqueue.services.workflows import WorkflowCancelled, cancel_workflow

__all__ = [
    "BulkEnqueueError",
    "EnqueueRequest",
    "GroupOutcome",
    "PruneReport",
    "SyncReport",
    "WorkflowCancelled",
    "cancel",
    "cancel_workflow",
    "discard_dead_letter",
    "discard_group",
    "enqueue",
    "enqueue_many",
    "pause",
    "prune",
    "requeue_dead_letter",
    "requeue_group",
    "rerun",
    "resume",
    "run_now",
    "sync_job_type",
    "sync_job_types",
    "update_job_type",
]
