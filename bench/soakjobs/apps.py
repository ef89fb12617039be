"""App configuration of the soak job types."""

from django.apps import AppConfig


class SoakJobsConfig(AppConfig):
    name = "bench.soakjobs"
    label = "soakjobs"
    default_auto_field = "django.db.models.BigAutoField"
