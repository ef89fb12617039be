"""Settings of `python -m bench.soak`: the project's, plus the soak's job types, and timeouts short
enough that a killed cluster's claims come back within a minute (a claim waiting for a worker is
leased for the longest job type timeout plus LEASE_GRACE; the soak pins every type's timeout)."""

import os

os.environ.setdefault("SECRET_KEY", "soak-only-secret-key-not-for-production")

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.soakjobs"]

SOAK_TIMEOUT = 20
JOBQUEUE = {"DEFAULT_TIMEOUT": SOAK_TIMEOUT, "LEASE_GRACE": 5}
