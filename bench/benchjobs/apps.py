"""App configuration of the bench-only job types."""

from django.apps import AppConfig


class BenchJobsConfig(AppConfig):
    name = "bench.benchjobs"
    label = "benchjobs"
    default_auto_field = "django.db.models.BigAutoField"
