"""tests.settings with the django-q2 adapter app after django_q (system check jobqueue.E008)."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "jobqueue.djangoq"] + ["jobqueue.djangoq"]
