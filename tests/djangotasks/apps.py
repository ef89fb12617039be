"""The app of Django tasks used by tests/test_tasks_backend.py."""

from django.apps import AppConfig


class DjangoTasksTestConfig(AppConfig):
    name = "tests.djangotasks"
    label = "djangotasks"
