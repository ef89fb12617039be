"""The test settings with the API's job rate taken from TEST_API_ENQUEUE_RATE, for the web
processes the gunicorn throttle test starts (JOBQUEUE is read from settings, not the environment)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import JOBQUEUE

JOBQUEUE = {**JOBQUEUE, "API_ENQUEUE_RATE": os.environ.get("TEST_API_ENQUEUE_RATE", "1000/hour")}
