"""django-q2's admin lets a staff user name any function to run (schedules, resubmit): its
pages are removed; the job queue never uses them."""

from __future__ import annotations

import django_q.admin  # noqa: F401 - its registrations must exist to be removed, whatever the app order
from django.contrib import admin
from django_q import models as q_models

for model in (q_models.Schedule, q_models.Success, q_models.Failure, q_models.OrmQ):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
