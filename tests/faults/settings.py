"""Settings of the fault suite's clusters and web servers: the test settings with a short default
timeout, so that a lost cluster's claims come back within seconds (a claim waiting for a worker
is leased for the longest job type timeout plus LEASE_GRACE; the suite pins every type's timeout
to FAULT_TIMEOUT through the environment)."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production")

from tests.settings import *  # noqa: F403
from tests.settings import JOBQUEUE

FAULT_TIMEOUT = 8
JOBQUEUE = {**JOBQUEUE, "DEFAULT_TIMEOUT": FAULT_TIMEOUT}
