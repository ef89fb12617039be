"""Settings for side A (raw django-q2): the project's settings with django-q2's own ORM broker.

The database options are the project's (SQLite WAL + synchronous NORMAL, CONN_MAX_AGE 600 with
health checks), so raw django-q2 also gets persistent connections: the comparison is of the
queues, not of connection handling. BENCH_RAWQ_MODE picks django-q2's defaults (`bulk` 1,
`save_limit` 250) or the throughput-tuned configuration (`bulk` 10, `save_limit` 0).
"""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2gtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleTA=")  # bench only

from config.settings import *  # noqa: F403
from config.settings import CLUSTER_CONN_MAX_AGE, DATABASES, INSTALLED_APPS, env

# django_q first, so that `qcluster` is django-q2's own command, not the job queue's wrapper.
INSTALLED_APPS = ["django_q", *(app for app in INSTALLED_APPS if app != "django_q")]

# django-q2's own qcluster does not turn the web's connection pool off as ours does (a pool's
# threads do not survive its forks): its processes keep one persistent connection each, like ours.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
DATABASES["default"]["CONN_MAX_AGE"] = CLUSTER_CONN_MAX_AGE

# jobqueue.E004 refuses any broker but ours, E008 django-q2's own qcluster; this bench-only
# module runs both on purpose.
SILENCED_SYSTEM_CHECKS = ["jobqueue.E004", "jobqueue.E008"]

RAWQ_MODE = env.str("BENCH_RAWQ_MODE", default="tuned")

Q_CLUSTER: dict[str, object] = {
    "name": "rawq",
    "orm": "default",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 60,
    "retry": 120,
    "log_level": "WARNING",
}
if RAWQ_MODE == "tuned":
    Q_CLUSTER.update({"bulk": 10, "save_limit": 0})
elif RAWQ_MODE != "defaults":
    raise ValueError(f"BENCH_RAWQ_MODE must be 'defaults' or 'tuned', not {RAWQ_MODE!r}")
