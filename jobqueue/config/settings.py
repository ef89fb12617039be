"""The one reader of `django.conf.settings`: the JOBQUEUE dict, validated once into a frozen,
typed object (`JobQueueConfig`), and its accessor `jobqueue_settings`.

A key of the wrong type or out of range does not stop the import: the accessor gives that
key's default, and system check `jobqueue.E010` names the key, the value and the fix, so
`manage.py check` and `qcluster` stop before anything runs with it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

from django.conf import settings as django_settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# The bounds of the `timeout` and `retention` options, which these defaults stand in for.
from jobqueue.config.values import MAX_ASYNC_CONCURRENCY, MAX_RETENTION, MAX_TIMEOUT

logger = logging.getLogger("jobqueue")

# The windows the dashboard, the API and the health rules read metrics over.
Window = Literal["15m", "1h", "24h", "7d"]
DAY = 86400
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
Seconds = float  # intervals may be fractions of a second
PollSeconds = Annotated[float, Field(gt=0, le=60)]


class JobQueueConfig(BaseModel):
    """Every JOBQUEUE key with its type, range and default. Strict: `"2"` is not 2."""

    # validate_default: a default is converted like a value (300 -> 300.0 for a float key).
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, validate_default=True)

    JOB_MODULE: str = Field(
        "jobs",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
        description="a dotted module name such as 'jobs'",
    )
    ENV_PREFIX: str = Field("JOBQUEUE_", pattern=IDENTIFIER, description="letters, digits and underscores")
    DEFAULT_TIMEOUT: int = Field(600, ge=1, le=MAX_TIMEOUT)
    LEASE_GRACE: int = Field(30, ge=1, le=DAY)
    CLAIM_RENEW_FACTOR: float = Field(3.0, ge=1, le=1000)
    ASYNC_CONCURRENCY: int = Field(50, ge=1, le=MAX_ASYNC_CONCURRENCY)
    ASYNC_TOPUP_SECONDS: Seconds = Field(5.0, ge=0, le=3600)
    CHUNK_BUDGET_MS: float = Field(50, ge=0, le=60_000)
    CHUNK_MAX_JOBS: int = Field(100, ge=1, le=10_000)
    FLUSH_INTERVAL_MS: float = Field(10, ge=0, le=60_000)
    RECORD_PATIENCE: Seconds = Field(30.0, ge=0, le=3600)
    RECLAIM_INTERVAL: Seconds = Field(2.0, gt=0, le=3600)
    IDLE_POLL_MAX: PollSeconds | dict[str, PollSeconds] = Field(
        {"postgresql": 2.0, "default": 0.2},
        description="a number > 0 and <= 60, or a dict of those by database vendor ('default' for the others)",
    )
    HEARTBEAT_INTERVAL: Seconds = Field(5.0, gt=0, le=3600)
    CONFIG_CACHE_SECONDS: Seconds = Field(1.0, ge=0, le=3600)
    TRACEBACK_MAX_CHARS: int = Field(16_000, ge=100, le=10_000_000)
    ERROR_MAX_CHARS: int = Field(2_000, ge=100, le=1_000_000)
    LOG_MAX_LINES: int = Field(200, ge=0, le=100_000)
    LOG_LINE_MAX_CHARS: int = Field(1_000, ge=10, le=1_000_000)
    DEFAULT_RETENTION: int = Field(7 * DAY, ge=1, le=MAX_RETENTION)
    SCHEDULE_INTERVAL: Seconds = Field(1.0, gt=0, le=3600)
    SCHEDULE_CATCH_UP: int = Field(1, ge=0, le=10_000)
    # Quoted into LISTEN: an identifier only.
    NOTIFY_CHANNEL: str = Field(
        "jobqueue", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", description="an identifier of up to 63 characters"
    )
    HEALTH_WINDOW: Window = "1h"
    # The anonymous verdict of /api/health/ is computed at most once per this many seconds for
    # the whole deployment (shared cache): load balancers and strangers cannot make it scan.
    HEALTH_CACHE_SECONDS: int = Field(5, ge=0, le=300)
    # Operator searches (the `q` of the API's job list, the admin's job search) are cut off
    # after this many seconds on PostgreSQL and MariaDB, with a message to narrow them.
    SEARCH_TIMEOUT: Seconds = Field(5, gt=0, le=300)
    HEALTH_MAX_READY_AGE: Seconds = Field(300, gt=0)
    HEALTH_FAILURE_RATE: float = Field(0.5, ge=0, le=1)
    HEALTH_FAILURE_MIN_ATTEMPTS: int = Field(10, ge=0)
    HEALTH_FAILURE_RATE_WARNING: float = Field(0.3, ge=0, le=1)
    HEALTH_FAILURE_MIN_ATTEMPTS_WARNING: int = Field(5, ge=0)
    HEALTH_MAX_AVG_DURATION: Seconds = Field(300, gt=0)
    HEALTH_DEAD_LETTER_RATE: float = Field(0.1, ge=0, le=1)
    HEALTH_SCHEDULE_LATE_FACTOR: float = Field(2.0, ge=1)
    METRICS_ROLLUP_LAG: int = Field(120, ge=0, le=DAY)
    METRICS_ROLLUP_READ_MINUTES: int = Field(10, ge=0, le=7 * 24 * 60)
    METRICS_ROLLUP_BATCH_MINUTES: int = Field(24 * 60, ge=1, le=31 * 24 * 60)
    METRICS_RETENTION: int = Field(30 * DAY, ge=3600, le=MAX_RETENTION)
    DASHBOARD_REFRESH: int = Field(15, ge=0, le=DAY)
    PROMETHEUS_PUBLIC: bool = False
    API_MAX_BODY_BYTES: int = Field(256 * 1024, ge=1024, le=100 * 1024 * 1024)
    API_MAX_JSON_DEPTH: int = Field(32, ge=2, le=1000)
    API_BULK_MAX: int = Field(1000, ge=1, le=100_000)
    # DRF throttle rate: N/second|minute|hour|day (only the unit's first letter counts); None: off.
    API_ENQUEUE_RATE: str | None = Field(
        "600/minute",
        pattern=r"^[1-9][0-9]*/(s|m|h|d)[a-z]*$",
        description="N/second, N/minute, N/hour or N/day, or None (no limit)",
    )
    API_MAX_READY_PER_TYPE: int = Field(100_000, ge=1)
    # A run_after given to the API: not before now minus this skew (clocks differ a little; a
    # date in year 1 would jump the queue), nor after now plus the horizon.
    API_RUN_AFTER_SKEW: int = Field(300, ge=0, le=DAY)
    API_RUN_AFTER_HORIZON: int = Field(366 * DAY, ge=60, le=10 * 366 * DAY)
    API_BACKLOG_RETRY_AFTER: int = Field(30, ge=1, le=DAY)
    API_TOKEN_TOUCH_INTERVAL: int = Field(60, ge=0, le=DAY)


DEFAULTS: dict[str, Any] = {name: field.default for name, field in JobQueueConfig.model_fields.items()}


@dataclass(frozen=True)
class SettingProblem:
    """A JOBQUEUE key whose value was refused (its default applies); reported as jobqueue.E010."""

    key: str
    value: Any
    message: str
    default: Any


@dataclass(frozen=True)
class Loaded:
    config: JobQueueConfig
    problems: tuple[SettingProblem, ...]
    unknown_keys: tuple[str, ...]


def load(user: Any) -> Loaded:
    """Validate a JOBQUEUE value over the defaults: each bad key falls back to its default alone."""
    if not isinstance(user, dict):
        problem = SettingProblem("JOBQUEUE", user, "must be a dict", {})
        return Loaded(JobQueueConfig(), (problem,), ())
    known = {key: value for key, value in user.items() if key in DEFAULTS}
    unknown = tuple(sorted(str(key) for key in user if key not in DEFAULTS))
    problems: dict[str, SettingProblem] = {}
    try:
        config = JobQueueConfig.model_validate(known)
    except ValidationError as exc:
        by_key: dict[str, list[Any]] = {}
        for error in exc.errors():
            by_key.setdefault(str(error["loc"][0]), []).append(error)
        for key, errors in by_key.items():
            # Of a union's branches, the deepest error is the one about the form that was given.
            deepest = max(errors, key=lambda error: len(error["loc"]))
            problems[key] = SettingProblem(key, known[key], _describe(deepest, known[key]), DEFAULTS[key])
        config = JobQueueConfig.model_validate({k: v for k, v in known.items() if k not in problems})
    return Loaded(config, tuple(problems.values()), unknown)


def _describe(error: Any, value: Any) -> str:
    path = []
    for part in error["loc"][1:]:  # keys into the value given, not pydantic's names of union branches
        if isinstance(value, dict) and part in value:
            path.append(str(part))
            value = value[part]
    where = f" at [{']['.join(repr(p) for p in path)}]" if path else ""
    return f"{error['msg']}{where}; expected {expected(str(error['loc'][0]))}"


_KINDS = {int: "an integer", float: "a number", bool: "True or False", str: "a string"}
_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def expected(key: str) -> str:
    """A key's type and range in words, for messages and docs: "a number > 0 and <= 3600"."""
    field = JobQueueConfig.model_fields[key]
    if field.description:
        return field.description
    if get_origin(field.annotation) is Literal:
        return "one of " + ", ".join(repr(choice) for choice in get_args(field.annotation))
    bounds = [
        f"{sign} {getattr(rule, name)}"
        for rule in field.metadata
        for name, sign in _BOUNDS.items()
        if getattr(rule, name, None) is not None
    ]
    kind = _KINDS[field.annotation] if isinstance(field.annotation, type) else str(field.annotation)
    return f"{kind} {' and '.join(bounds)}".strip()


class JobQueueSettings:
    """Attribute access to the validated JOBQUEUE setting, rebuilt on `setting_changed`."""

    def __init__(self) -> None:
        self._loaded: Loaded | None = None

    @property
    def loaded(self) -> Loaded:
        if self._loaded is None:
            self._loaded = load(getattr(django_settings, "JOBQUEUE", {}))
            # Processes that run no system checks (a WSGI server) still say it, once per load.
            for problem in self._loaded.problems:
                logger.error(
                    "JOBQUEUE[%r] = %r is invalid, using %r: %s (check jobqueue.E010)",
                    problem.key,
                    problem.value,
                    problem.default,
                    problem.message,
                )
        return self._loaded

    @property
    def config(self) -> JobQueueConfig:
        return self.loaded.config

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"JOBQUEUE has no setting {name!r}; known: {', '.join(DEFAULTS)}")
        return getattr(self.loaded.config, name)

    def reload(self) -> None:
        self._loaded = None


_settings = JobQueueSettings()
if TYPE_CHECKING:
    # Callers see each key with its declared type.
    jobqueue_settings: JobQueueConfig
else:
    jobqueue_settings = _settings


def loaded_settings() -> Loaded:
    """The validated settings with what was refused: for the system checks."""
    return _settings.loaded


def reload_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """`setting_changed` receiver, connected in AppConfig.ready(): makes override_settings work."""
    if setting == "JOBQUEUE":
        _settings.reload()


def django_setting(name: str, default: Any = None) -> Any:
    """Read one of Django's own settings (TIME_ZONE, Q_CLUSTER, DATABASES...) for the package."""
    return getattr(django_settings, name, default)
