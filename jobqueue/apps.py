"""App configuration: discover job modules, connect receivers, register checks."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed
from django.db.models.signals import post_migrate


class JobQueueConfig(AppConfig):
    name = "jobqueue"
    verbose_name = "Job queue"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from jobqueue import checks as jq_checks
        from jobqueue.config.effective import clear_cache
        from jobqueue.config.settings import jobqueue_settings, reload_on_setting_changed
        from jobqueue.registry import autodiscover

        setting_changed.connect(reload_on_setting_changed, dispatch_uid="jobqueue.config.settings.reload")
        setting_changed.connect(clear_cache, dispatch_uid="jobqueue.config.effective.clear")
        post_migrate.connect(_sync_after_migrate, sender=self, dispatch_uid="jobqueue.sync")

        checks.register(jq_checks.check_settings, "jobqueue")
        checks.register(jq_checks.check_environment_pins, "jobqueue")
        checks.register(jq_checks.check_requires, "jobqueue")
        checks.register(jq_checks.check_schedules, "jobqueue")
        checks.register(jq_checks.check_encryption_keys, "jobqueue")
        # Its own tag: it opens the database files (run by `check` and qcluster, not by the
        # tag-filtered runs that must not touch a database).
        checks.register(jq_checks.check_sqlite_wal, "jobqueue_sqlite")
        # Its own tag: since Django 6.1 run_checks(tags=["jobqueue"]) would also pass every
        # database, and a static check run must never need one.
        checks.register(jq_checks.check_records, "jobqueue_records", checks.Tags.database)
        checks.register(jq_checks.check_sealed_secrets, "jobqueue_records", checks.Tags.database)
        checks.register(jq_checks.check_database, "jobqueue")
        # Its own tag: it asks the server its version (a connection opened and closed again).
        checks.register(jq_checks.check_database_version, "jobqueue_database")

        autodiscover(jobqueue_settings.JOB_MODULE, apps.get_app_configs())
        # Django's @task functions become job types when their backend is ours (tasks_backend).
        backends = getattr(settings, "TASKS", {}) or {}
        if any(str(b.get("BACKEND", "")).startswith("jobqueue.tasks_backend.") for b in backends.values()):
            autodiscover("tasks", apps.get_app_configs())


def _sync_after_migrate(*, using: str = "default", **kwargs: Any) -> None:
    from jobqueue.services import sync_job_types

    sync_job_types()
