"""The adapter as an app of its own, so that its `qcluster` command and admin hardening load."""

from __future__ import annotations

from django.apps import AppConfig


class DjangoQAdapterConfig(AppConfig):
    name = "jobqueue.djangoq"
    label = "jobqueue_djangoq"
    verbose_name = "Job queue: django-q2 adapter"
