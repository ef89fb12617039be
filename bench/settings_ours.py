"""Settings for side B (this product): the project's settings plus the bench-only no-op job type."""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production")

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchjobs"]
