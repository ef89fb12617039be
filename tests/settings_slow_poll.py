"""The test settings, but an idle cluster looks for work only every 30 seconds: whatever
picks a new job up sooner is the wake-up (NOTIFY on PostgreSQL, the doorbell on SQLite)."""

from tests.settings import *  # noqa: F403
from tests.settings import JOBQUEUE

JOBQUEUE = {**JOBQUEUE, "IDLE_POLL_MAX": 30}
