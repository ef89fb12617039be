"""The Django admin of the job queue: job types, jobs, dead letters and the dashboard."""

from __future__ import annotations

from jobqueue.admin.deadletters import DeadLetterAdmin
from jobqueue.admin.jobs import JobAdmin
from jobqueue.admin.jobtypes import JobTypeAdmin

__all__ = ["DeadLetterAdmin", "JobAdmin", "JobTypeAdmin"]
