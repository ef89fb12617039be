"""The Django admin of the job queue: job types, jobs, dead letters and the dashboard."""

from __future__ import annotations

from django.contrib import admin

from jobqueue.admin.deadletters import DeadLetterAdmin
from jobqueue.admin.jobs import JobAdmin
from jobqueue.admin.jobtypes import JobTypeAdmin


def _harden_django_q_admin() -> None:
    """django-q2's admin lets a staff user name any function to run (schedules, resubmit):
    remove those pages; the job queue never uses them. django_q.admin is imported first so
    that its registrations exist to be removed, whatever the app order."""
    import django_q.admin  # noqa: F401
    from django_q import models as q_models

    for model in (q_models.Schedule, q_models.Success, q_models.Failure, q_models.OrmQ):
        if admin.site.is_registered(model):
            admin.site.unregister(model)


_harden_django_q_admin()

__all__ = ["DeadLetterAdmin", "JobAdmin", "JobTypeAdmin"]
