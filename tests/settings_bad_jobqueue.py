"""The test settings with one invalid JOBQUEUE value: `manage.py check` and `qcluster` must refuse
to start (system check jobqueue.E010) rather than run with it."""

from tests.settings import *  # noqa: F403
from tests.settings import JOBQUEUE

JOBQUEUE = {**JOBQUEUE, "RECLAIM_INTERVAL": "2s"}
