"""The one reader of `django.conf.settings`: the JOBQUEUE dict, its defaults and its accessor."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

DEFAULTS: dict[str, Any] = {
    # The module imported from every installed app to discover job types.
    "JOB_MODULE": "jobs",
    # Prefix of the environment variables that pin a job type's options.
    "ENV_PREFIX": "JOBQUEUE_",
    # A job type without its own timeout gets this one (seconds).
    "DEFAULT_TIMEOUT": 600,
    # A claimed job is leased for its timeout plus this grace; past it, any cluster reclaims it.
    "LEASE_GRACE": 30,
    # A claimed job waiting for a worker has its lease renewed for at most this many times
    # its longest lease; a claim older than that was lost in transit and is reclaimed.
    "CLAIM_RENEW_FACTOR": 3.0,
    # Jobs of an async type one worker runs at once on its event loop (one unit).
    "ASYNC_CONCURRENCY": 50,
    # Short sync jobs are handed to a worker in chunks that should take about this long
    # (milliseconds), sized from the type's recent time per job; a type with no history
    # yet runs one job per unit. A more urgent job waits at most about this for a worker.
    "CHUNK_BUDGET_MS": 50,
    # The most jobs in one chunk, however short they are.
    "CHUNK_MAX_JOBS": 100,
    # Decided attempts are recorded in groups: one transaction at least this often
    # (milliseconds) while a unit runs, and at its end.
    "FLUSH_INTERVAL_MS": 10,
    # A worker whose recording fails on a dropped connection retries for this long (seconds)
    # before leaving the attempts to the reclaimer (which runs them again).
    "RECORD_PATIENCE": 30.0,
    # How often each cluster looks for expired leases and dead local workers (seconds).
    "RECLAIM_INTERVAL": 2.0,
    # The longest an idle cluster sleeps between two empty claims (seconds); polling backs
    # off up to this. On PostgreSQL a NOTIFY cuts the sleep short, so it can be long; on
    # SQLite (one machine, a cheap local read) it stays short to keep latency low.
    "IDLE_POLL_MAX": {"postgresql": 2.0, "default": 0.2},
    # How often each cluster records its heartbeat (seconds); silent for 3 of these = lost.
    "HEARTBEAT_INTERVAL": 5.0,
    # Effective job type configuration is cached this long (seconds): record edits take
    # effect within it, without a restart.
    "CONFIG_CACHE_SECONDS": 1.0,
    # Bounds on what an attempt keeps.
    "TRACEBACK_MAX_CHARS": 16_000,
    "ERROR_MAX_CHARS": 2_000,
    "LOG_MAX_LINES": 200,
    "LOG_LINE_MAX_CHARS": 1_000,
    # Finished jobs are kept this long unless their type says otherwise (seconds).
    "DEFAULT_RETENTION": 7 * 24 * 3600,
    # How often each cluster evaluates schedules (seconds).
    "SCHEDULE_INTERVAL": 1.0,
    # After downtime, how many jobs stand for all the slots a schedule missed (0: none).
    "SCHEDULE_CATCH_UP": 1,
    # The PostgreSQL channel that enqueue notifies and idle clusters listen on.
    "NOTIFY_CHANNEL": "jobqueue",
    # Health rules (jobqueue.health), over the window the dashboard shows by default.
    "HEALTH_WINDOW": "1h",
    # The oldest ready job waiting longer than this (seconds) makes the system degraded.
    "HEALTH_MAX_READY_AGE": 300,
    # A type failing more than this fraction of its attempts, over more than
    # HEALTH_FAILURE_MIN_ATTEMPTS attempts, makes the system unhealthy ...
    "HEALTH_FAILURE_RATE": 0.5,
    "HEALTH_FAILURE_MIN_ATTEMPTS": 10,
    # ... and more than this fraction over at least this many attempts, degraded.
    "HEALTH_FAILURE_RATE_WARNING": 0.3,
    "HEALTH_FAILURE_MIN_ATTEMPTS_WARNING": 5,
    # A type whose average attempt lasts longer than this (seconds) makes it degraded.
    "HEALTH_MAX_AVG_DURATION": 300,
    # More than this fraction of finished jobs dead-lettered in the window: degraded.
    "HEALTH_DEAD_LETTER_RATE": 0.1,
    # A scheduled type that has not run for this many of its intervals: degraded.
    "HEALTH_SCHEDULE_LATE_FACTOR": 2.0,
    # Metrics read closed minutes from the per-minute rollup (MetricMinute). A minute is rolled up
    # once it ended at least this long ago (seconds), so that attempts recorded a little late
    # (a reclaimed crash, a slow commit) still land in it; newer history is read raw.
    "METRICS_ROLLUP_LAG": 120,
    # Minutes the rollup may aggregate in one call: reading the metrics rolls up at most
    # METRICS_ROLLUP_READ_MINUTES, the `jobqueue_rollup` job type METRICS_ROLLUP_BATCH_MINUTES.
    "METRICS_ROLLUP_READ_MINUTES": 10,
    "METRICS_ROLLUP_BATCH_MINUTES": 24 * 60,
    # Rolled-up minutes are kept this long (seconds), whatever the retention of the jobs.
    "METRICS_RETENTION": 30 * 24 * 3600,
    # The admin dashboard reloads itself this often while open (seconds; 0 turns it off).
    "DASHBOARD_REFRESH": 15,
    # /api/metrics/prometheus/: open to unauthenticated scrapers only when True (keep it
    # behind the network then); otherwise it needs a login or token with view rights.
    "PROMETHEUS_PUBLIC": False,
    # REST API limits. A request body larger than this gets 413 (bytes).
    "API_MAX_BODY_BYTES": 256 * 1024,
    # JSON nested deeper than this gets 400: no payload needs it, and parsers pay for it.
    "API_MAX_JSON_DEPTH": 32,
    # Items accepted by one bulk call (POST /api/jobs/bulk/, POST /api/dead-letters/requeue/).
    "API_BULK_MAX": 1000,
    # Enqueue calls (single, bulk, run-now) per user, as DRF throttle rates: N/second|minute|hour|day.
    "API_ENQUEUE_RATE": "600/minute",
    # When this many jobs of one type are ready and waiting, enqueue answers 503 instead of
    # growing the backlog without bound; clients retry after API_BACKLOG_RETRY_AFTER seconds.
    "API_MAX_READY_PER_TYPE": 100_000,
    "API_BACKLOG_RETRY_AFTER": 30,
    # API tokens record their last use at most this often (seconds): one write per token per minute.
    "API_TOKEN_TOUCH_INTERVAL": 60,
}


class JobQueueSettings:
    """Attribute access to the JOBQUEUE setting merged over DEFAULTS, re-read on setting_changed."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(django_settings, "JOBQUEUE", {})
        return dict(value) if isinstance(value, dict) else {}

    def unknown_keys(self) -> list[str]:
        return sorted(set(self.user_settings) - set(DEFAULTS))

    def _merged(self) -> dict[str, Any]:
        if self._cache is None:
            merged = dict(DEFAULTS)
            merged.update({k: v for k, v in self.user_settings.items() if k in DEFAULTS})
            self._cache = merged
        return self._cache

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"JOBQUEUE has no setting {name!r}; known: {', '.join(DEFAULTS)}")
        return self._merged()[name]

    def reload(self) -> None:
        self._cache = None


jobqueue_settings = JobQueueSettings()


def reload_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """`setting_changed` receiver, connected in AppConfig.ready(): makes override_settings work."""
    if setting == "JOBQUEUE":
        jobqueue_settings.reload()


def django_setting(name: str, default: Any = None) -> Any:
    """Read one of Django's own settings (TIME_ZONE, Q_CLUSTER, DATABASES...) for the package."""
    return getattr(django_settings, name, default)
