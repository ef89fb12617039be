"""App configuration of the REST API: installing it registers the API token admin."""

from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "jobqueue.api"
    label = "jobqueue_api"
    verbose_name = "Job queue API"
