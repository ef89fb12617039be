"""App configuration of the test suite's fixture job types."""

from django.apps import AppConfig


class TestsConfig(AppConfig):
    name = "tests"
    label = "jobqueue_tests"
    default_auto_field = "django.db.models.BigAutoField"
