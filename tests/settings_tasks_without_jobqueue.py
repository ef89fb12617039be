"""Django's task framework on the job queue's backend, without the queue's apps installed
(system check jobqueue.E040, tests/test_tasks_contract.py)."""

import django

from tests.settings import *  # noqa: F403

# On Django 5.2 the django-tasks app runs the backends' checks; Django 6 runs them itself.
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    *(["django_tasks"] if django.VERSION < (6, 0) else []),
]
# A project on Django's tasks imports the framework while it loads (its tasks, views or models
# modules do); Django 6 registers the backends' checks on that import.
if django.VERSION >= (6, 0):
    import django.tasks

ROOT_URLCONF = "tests.settings_tasks_without_jobqueue"
urlpatterns: list[object] = []
