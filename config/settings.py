"""Project settings, read from the environment (and a `.env` file) through django-environ."""

import os
import warnings
from pathlib import Path

import environ

from jobqueue.djangoq.conf import q_cluster

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env "
            "(or set DEBUG=true to use the insecure development key)."
        )
    # Once per start, not once per process: `make run` starts migrate, runserver and qcluster
    # (whose workers load the settings again); scripts/run.sh prints it itself and sets the flag.
    if not os.environ.get("DEV_SECRET_KEY_WARNED"):
        os.environ["DEV_SECRET_KEY_WARNED"] = "1"  # noqa: S105 (a flag, not a secret)
        warnings.warn(
            "SECRET_KEY is not set: using the insecure development key. Set SECRET_KEY before deploying.",
            RuntimeWarning,
            stacklevel=1,
        )
    SECRET_KEY = _DEV_SECRET_KEY

# Fernet keys for secrets stored in the database (comma separated; the first encrypts, all
# decrypt, so a rotation puts the new key first: docs/configuration.md). Not JOBQUEUE_*: that
# prefix belongs to the job types' environment pins. Empty with DEBUG off is an error at start.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Non-public networks workers may send requests to (CIDR, comma separated), e.g. the
# transaction service's: everything else outbound goes to public addresses only
# (tasks.clients.egress).
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])

INSTALLED_APPS = [
    # jobqueue comes before django_q so that its `qcluster` command (which wraps
    # django-q2's) is the one Django finds.
    "jobqueue",
    "tasks",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "jobqueue.api",
    # The django-q2 adapter (its `qcluster` command wraps django-q2's) comes before django_q.
    "jobqueue.djangoq",
    "django_q",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the collected static files (STATIC_ROOT) from the WSGI server, with far-future
    # caching and compression; no separate web server is needed for them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "jobqueue.csp.AdminContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# The embedded default is a SQLite file next to the project. WAL lets readers and the
# single writer proceed together; IMMEDIATE transactions take the write lock up front so
# web, pusher and workers queue on the busy timeout instead of failing with
# "database is locked" when a read transaction tries to upgrade.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].setdefault(
        "init_command",
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    )
    _db["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    _db["OPTIONS"].setdefault("timeout", 30)
if _db["ENGINE"] == "django.db.backends.mysql":
    # MariaDB / MySQL (docs/configuration.md): full Unicode on the connection, and Django's
    # warnings about partial indexes silenced because nothing is lost: models.W036 names only
    # the Job's partial unique constraint (unique jobs), which jobqueue migration 0010 enforces
    # there by a unique index on a generated column; models.W037 (Job, tasks.DAO, django-q2's
    # Task) means plain indexes instead of partial ones, slower to write but answering the
    # same queries, and the claim reads migration 0010's generated column index instead.
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].setdefault("charset", "utf8mb4")
    SILENCED_SYSTEM_CHECKS = ["models.W036", "models.W037"]
# One cache shared by every process (the health verdict and the chainhook endpoint's guessing
# counts live in it, so every gunicorn worker sees the same): a table in the database by
# default, no new service; Redis when REDIS_URL is set (then `pip install redis`). The table is
# created after `migrate` (jobqueue's post_migrate), wherever migrate runs. The API's job rate
# is counted in a table of its own (jobqueue.services.jobrate), atomically, whatever the cache.
_redis_url = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}
        if _redis_url
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "jobqueue_cache"}
    )
}
# Cluster processes keep one persistent connection each: a reconnect per query costs about
# 5 ms on PostgreSQL and cuts a cluster's throughput several times (docs/configuration.md).
CLUSTER_CONN_MAX_AGE = _db.get("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=600))
_db.setdefault("CONN_HEALTH_CHECKS", True)
# On PostgreSQL the web process borrows connections from a bounded pool (psycopg_pool) instead
# of keeping one per request thread, so a burst of requests cannot exhaust the server's
# max_connections; a request that waits longer than the pool timeout answers 503. `qcluster`
# turns the pool off in its processes (jobqueue.djangoq.connections). 0 disables the pool.
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=10)
if _db["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_SIZE > 0:
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, DATABASE_POOL_SIZE),
        "max_size": DATABASE_POOL_SIZE,
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=5.0),
    }
    _db["CONN_MAX_AGE"] = 0  # Django's pool and persistent connections exclude each other
else:
    _db["CONN_MAX_AGE"] = CLUSTER_CONN_MAX_AGE

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Hashed names (cache-busting) need `manage.py collectstatic` before the first request, so they
# are on by default only when DEBUG is off (production); STATIC_MANIFEST=false turns them off.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# HTTPS, from the environment (docs/deploy.md). HTTPS=true says the site is served over TLS
# (usually by a proxy in front of gunicorn): cookies become secure, plain HTTP is redirected,
# and browsers are told to keep to HTTPS (HSTS). Each setting can be overridden on its own.
HTTPS = env.bool("HTTPS", default=False)
_proxy_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_header:
    if len(_proxy_header) != 2:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER takes a header and a value, e.g. HTTP_X_FORWARDED_PROTO,https"
        )
    SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1])
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]  # load balancers probe health over plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        # Not JOBQUEUE_*: that prefix belongs to the job types' environment pins.
        "jobqueue": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
        # django-q2 logs every task at INFO; that costs 10-20 % of throughput.
        "django-q": {"handlers": ["console"], "level": env.str("Q_LOG_LEVEL", "WARNING")},
    },
}

# django-q2 is the executor only: its broker is ours (the Job table is the queue), the only
# function it ever runs is jobqueue.djangoq.entry.run, and it keeps no results of its own.
# q_cluster() fills the broker and the executor's settings (docs/install.md); the environment
# tunes what an operator may.
_q_timeout = env.int("Q_TIMEOUT", default=3600)
Q_CLUSTER = q_cluster(
    workers=env.int("Q_WORKERS", default=2),
    queue_limit=env.int("Q_QUEUE_LIMIT", default=1),
    poll=env.float("Q_POLL", default=0.05),
    timeout=_q_timeout,
    retry=env.int("Q_RETRY", default=_q_timeout + 100),
    recycle=env.int("Q_RECYCLE", default=1000),
    log_level=env.str("Q_LOG_LEVEL", "WARNING"),
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The interactive API docs (/api/docs/) are served from local static files, never a CDN.
SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "HealthStatusEnum": ["healthy", "degraded", "unhealthy"],
        "JobStatusEnum": "jobqueue.models.Status",
    },
}

JOBQUEUE: dict[str, object] = {}

# POST /api/chainhooks/<name>/ takes whole blocks: a contract deployment carries its source twice
# (~70 KB for the voting extension alone), so its limit is its own, far above API_MAX_BODY_BYTES.
CHAINHOOK_MAX_BODY_BYTES = env.int("CHAINHOOK_MAX_BODY_BYTES", default=16 * 1024 * 1024)
