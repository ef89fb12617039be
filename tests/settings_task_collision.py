"""tests.settings with an app whose two tasks differ only in case (tests/test_tasks_contract.py)."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.taskcollision"]
