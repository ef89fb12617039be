"""Settings for side B (this product): the project's settings plus the bench-only job types."""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2gtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleTA=")  # bench only

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchjobs"]

# The memory case sizes one unit so that its 200 async jobs are all in flight on 2 workers.
if os.environ.get("BENCH_ASYNC_CONCURRENCY"):
    from config.settings import JOBQUEUE

    JOBQUEUE = {**JOBQUEUE, "ASYNC_CONCURRENCY": int(os.environ["BENCH_ASYNC_CONCURRENCY"])}
