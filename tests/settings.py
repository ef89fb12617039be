"""Settings for the test suite: the project's, plus the fixture job types of tests/jobs.py.

DATABASE_URL picks the database as in production. A SQLite test database is a file (not
the in-memory default) so that real qcluster subprocesses can share it with the tests.
"""

import os
from typing import Any, cast

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production")
# A fixed key, so that real qcluster subprocesses decrypt what the tests stored.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdHMtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleTA=")

from config.settings import *  # noqa: F403
from config.settings import BASE_DIR, DATABASES, INSTALLED_APPS, LOGGING, STORAGES

INSTALLED_APPS = [*INSTALLED_APPS, "tests", "tests.djangotasks", "tests.userjobs"]

# Django's task framework on the job queue (jobqueue.tasks_backend): tests.djangotasks's @task functions.
TASKS = {"default": {"BACKEND": "jobqueue.tasks_backend.JobQueueBackend"}}

_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["TEST"] = {"NAME": os.environ.get("TEST_SQLITE_PATH", str(BASE_DIR / "db" / "test.sqlite3"))}
elif _db["ENGINE"] == "django.db.backends.mysql":
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}

# The suite runs with DEBUG off but without `collectstatic`: plain static names, unless a test (the
# production smoke test) asks for the manifest explicitly.
if "STATIC_MANIFEST" not in os.environ:
    STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

# The suite's stand-ins for outside services (pytest-httpserver) listen on loopback, as a
# deployment's own internal services would on its private network.
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests only
# HEALTH_CACHE_SECONDS 0: the suite polls /api/health/ for changes it has just caused (its
# caching is tested on its own, in tests/api/test_search_limits.py).
JOBQUEUE = {"CONFIG_CACHE_SECONDS": 0.2, "RECLAIM_INTERVAL": 0.5, "LEASE_GRACE": 2, "HEALTH_CACHE_SECONDS": 0}

# Django's own task log lines ("Task id=... state=..."), which the cluster tests read in a worker's output.
_loggers = cast(dict[str, Any], LOGGING["loggers"])
for _logger in ("django.tasks", "django_tasks"):
    _loggers[_logger] = {"handlers": ["console"], "level": "INFO"}
