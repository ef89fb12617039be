"""The options a job type can set: their validation, their text form, and the three-layer resolver.

One table (`OPTIONS`) serves `@job` (code defaults), the `JobType` record (admin form and API
PATCH, through `Option.parse` and `Option.to_record`), and environment pins
(`JOBQUEUE_<TYPE>_<OPTION>`), so the layers can never disagree on what a valid value is.
"""

from __future__ import annotations

import enum
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jobqueue.conf import jobqueue_settings
from jobqueue.exceptions import ConfigurationError


class Source(enum.StrEnum):
    CODE = "code"
    DATABASE = "database"
    ENVIRONMENT = "environment"


class Priority(enum.IntEnum):
    """Named priority levels; any integer from -100 to 100 is allowed, higher runs first."""

    LOW = -50
    NORMAL = 0
    MEDIUM = 25
    HIGH = 50
    CRITICAL = 100


_OFF = {"none", "null", "off", "unlimited"}
# Upper bounds: a value past them is a typo (a timeout in milliseconds, a retention in ms), and
# they keep every value inside its database column and Python's timedelta.
MAX_ATTEMPTS = 1000
MAX_TIMEOUT = 30 * 86400
MAX_CONCURRENCY = 100_000
MAX_BATCH_SIZE = 10_000
MAX_RETENTION = 10 * 365 * 86400
MAX_SCHEDULE_INTERVAL = 10 * 365 * 86400
_RATE_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]*)\s*$")


@dataclass(frozen=True)
class RateLimit:
    """At most `count` job starts in any `period` seconds, across all clusters."""

    count: int
    period: float

    def __str__(self) -> str:
        return f"{self.count}/{self.period:g}s"

    @classmethod
    def parse(cls, value: Any) -> RateLimit:
        if isinstance(value, RateLimit):
            return value
        if isinstance(value, tuple | list) and len(value) == 2:
            count, period = value
        elif isinstance(value, str) and (match := _RATE_RE.match(value.lower())):
            number, unit = match.group(2), match.group(3) or "s"
            if unit not in _RATE_UNITS:
                raise ConfigurationError(f"unknown unit {unit!r} in rate limit {value!r}; use s, m or h")
            count = int(match.group(1))
            period = (float(number) if number else 1.0) * _RATE_UNITS[unit]
        else:
            raise ConfigurationError(
                f"rate limit {value!r} is not of the form N/period, e.g. '30/60s', '100/m' or (30, 60)"
            )
        if int(count) < 1 or float(period) <= 0:
            raise ConfigurationError(f"rate limit {value!r} needs a count >= 1 and a period > 0")
        return cls(int(count), float(period))


@dataclass(frozen=True)
class Schedule:
    """Either every `interval` seconds, or on a five-field `cron` expression."""

    interval: float | None = None
    cron: str | None = None

    def __str__(self) -> str:
        return self.cron if self.cron else f"{self.interval:g}"

    @classmethod
    def parse(cls, value: Any) -> Schedule:
        if isinstance(value, Schedule):
            return value
        if isinstance(value, timedelta):
            value = value.total_seconds()
        if isinstance(value, bool):
            raise ConfigurationError(f"schedule {value!r} is neither seconds nor a cron expression")
        if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
            seconds = float(value)
            if not 1 <= seconds <= MAX_SCHEDULE_INTERVAL:
                raise ConfigurationError(
                    f"schedule interval {value!r} is out of range: use from 1 to {MAX_SCHEDULE_INTERVAL} seconds"
                )
            return cls(interval=seconds)
        if isinstance(value, str):
            expression = " ".join(value.split())
            from croniter import croniter

            if len(expression.split()) != 5 or not croniter.is_valid(expression):
                raise ConfigurationError(
                    f"schedule {value!r} is not a valid five-field cron expression "
                    "(minute hour day-of-month month day-of-week, e.g. '*/5 * * * *') "
                    "nor a number of seconds"
                )
            return cls(cron=expression)
        raise ConfigurationError(f"schedule {value!r} is neither seconds nor a cron expression")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- validators: take a value in any accepted form, return it normalised, or raise --------


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
    raise ConfigurationError(f"{value!r} is not a boolean; use true or false")


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise ConfigurationError(f"{value!r} is not a number")
    try:
        number = kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{value!r} is not {'an integer' if kind is int else 'a number'}") from None
    if kind is int and isinstance(value, float) and value != number:
        raise ConfigurationError(f"{value!r} is not an integer")
    return number


def _int_between(low: int, high: int | None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        number = _number(value, int)
        if number < low or (high is not None and number > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise ConfigurationError(f"{number} is out of range: use an integer {bound}")
        return int(number)

    return check


def _float_between(low: float, high: float | None, *, low_open: bool = False) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        number = float(_number(value, float))
        too_low = number <= low if low_open else number < low
        if too_low or (high is not None and number > high) or number != number:
            lower = f"greater than {low:g}" if low_open else f"at least {low:g}"
            bound = f"{lower} and at most {high:g}" if high is not None else lower
            raise ConfigurationError(f"{value!r} is out of range: use a number {bound}")
        return number

    return check


def _seconds(high: int) -> Callable[[Any], int | None]:
    """Whole seconds from 1 to `high` (fractions round up); None (in code) means "not set"."""

    def check(value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, timedelta):
            value = value.total_seconds()
        number = _number(value, float)
        if not 0 < number <= high:
            raise ConfigurationError(f"{value!r} is out of range: use a number of seconds from 1 to {high}")
        return int(number) if number == int(number) else int(number) + 1

    return check


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """None, or a word for "off" (any case), turns the option off."""

    def wrapped(value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in _OFF):
            return None
        return check(value)

    return wrapped


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _concurrency(value: Any) -> int | None:
    # 0 is how a record or an environment pin says "unlimited" (null means "inherit").
    if value is None or (isinstance(value, str) and value.strip().lower() in _OFF):
        return None
    number = _int_between(0, MAX_CONCURRENCY)(value)
    return number or None


def _timezone(value: Any) -> str:
    name = str(value).strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{value!r} is not a known time zone; use an IANA name such as 'Europe/Paris'"
        ) from None
    return name


def _same(value: Any) -> Any:
    return value


def _unlimited_as_zero(value: Any) -> Any:
    return 0 if value is None else value


def _off_as_text(value: Any) -> str:
    return "off" if value is None else str(value)


def is_blank(value: Any) -> bool:
    """None or a blank string: "no value here" (an empty admin field, a null in the API, an
    empty environment variable), so the layer below applies."""
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class Option:
    name: str
    validate: Callable[[Any], Any]
    help: str
    # The normalised value as the JobType record's column stores it.
    to_record: Callable[[Any], Any] = _same
    # The JSON type of the value in the API (a string is always accepted as well).
    json_type: str = "string"
    max_length: int = 100

    def parse(self, value: Any) -> Any:
        """A value given by a person (an environment pin, an admin form field, an API field),
        validated and normalised; raises ConfigurationError with the fix. The one gate of the
        three: whatever one accepts, the others accept."""
        if isinstance(value, str):
            if len(value) > self.max_length:
                raise ConfigurationError(f"is longer than {self.max_length} characters")
        elif not isinstance(value, bool | int | float):
            raise ConfigurationError(f"{_text(value)[:50]!r} is not a single value: give a {self.json_type}")
        return self.validate(value)

    def to_text(self, value: Any) -> str:
        """The form stored in a record's text column or shown in the admin."""
        if value is None:
            return "off"
        return str(value)


OPTIONS: dict[str, Option] = {
    option.name: option
    for option in [
        Option(
            "enabled",
            _bool,
            "whether jobs of this type are claimed; a disabled type keeps its jobs queued",
            json_type="boolean",
        ),
        Option("priority", _int_between(-100, 100), "-100..100, higher runs first", json_type="integer"),
        Option(
            "max_attempts",
            _int_between(1, MAX_ATTEMPTS),
            f"attempts in all, counting the first (1..{MAX_ATTEMPTS})",
            json_type="integer",
        ),
        Option(
            "timeout",
            _seconds(MAX_TIMEOUT),
            f"seconds an attempt may run before it is stopped (1..{MAX_TIMEOUT})",
            json_type="integer",
        ),
        Option(
            "concurrency",
            _concurrency,
            f"jobs of this type running at once across all clusters (0..{MAX_CONCURRENCY}; 0 or off: unlimited)",
            to_record=_unlimited_as_zero,
            json_type="integer",
        ),
        Option(
            "rate_limit",
            _optional(RateLimit.parse),
            "job starts per period across all clusters, e.g. 30/60s, or off",
            to_record=_off_as_text,
            max_length=50,
        ),
        Option(
            "batch_size",
            _int_between(1, MAX_BATCH_SIZE),
            "jobs claimed together into one attempt of execute_batch",
            json_type="integer",
        ),
        Option(
            "backoff_base",
            _float_between(0, 1e7, low_open=True),
            "seconds before the second attempt",
            json_type="number",
        ),
        Option(
            "backoff_factor",
            _float_between(1, 1000),
            "each further delay is this many times the previous",
            json_type="number",
        ),
        Option(
            "backoff_max",
            _float_between(0, 1e8, low_open=True),
            "no retry delay is longer than this (seconds)",
            json_type="number",
        ),
        Option(
            "backoff_jitter",
            _float_between(0, 1),
            "random spread of each delay, as a fraction (0..1)",
            json_type="number",
        ),
        Option(
            "schedule",
            _optional(Schedule.parse),
            "interval in seconds, or a cron expression, or off",
            to_record=_off_as_text,
        ),
        Option(
            "schedule_timezone",
            _optional(_timezone),
            "time zone of a cron schedule (default: TIME_ZONE), or off",
            to_record=_off_as_text,
            max_length=64,
        ),
        Option(
            "overlap",
            _bool,
            "whether a scheduled run may start while the previous one is queued or running",
            json_type="boolean",
        ),
        Option(
            "retention",
            _seconds(MAX_RETENTION),
            f"seconds finished jobs are kept (1..{MAX_RETENTION})",
            json_type="integer",
        ),
    ]
}

CODE_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "priority": Priority.NORMAL,
    "max_attempts": 3,
    "timeout": None,
    "concurrency": None,
    "rate_limit": None,
    "batch_size": 1,
    "backoff_base": 30.0,
    "backoff_factor": 2.0,
    "backoff_max": 3600.0,
    "backoff_jitter": 0.1,
    "schedule": None,
    "schedule_timezone": None,
    "overlap": True,
    "retention": None,
}


def validate_options(values: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """Validate and normalise option values; errors name the option and where it was set."""
    normalised: dict[str, Any] = {}
    for name, value in values.items():
        option = OPTIONS.get(name)
        if option is None:
            raise ConfigurationError(f"{where}: unknown option {name!r}; known options: {', '.join(OPTIONS)}")
        try:
            normalised[name] = option.validate(value)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: option {name!r}: {exc}") from None
    return normalised


def env_var(prefix: str, type_name: str, option: str) -> str:
    return f"{prefix}{type_name.upper()}_{option.upper()}"


@dataclass
class EffectiveConfig:
    """What a job type runs with, and where each value came from."""

    name: str
    values: dict[str, Any]
    sources: dict[str, Source]
    pins: dict[str, str] = field(default_factory=dict)  # option or settings.<field> -> variable
    settings: Any = None  # an instance of the type's Settings model, or None
    settings_sources: dict[str, Source] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    @property
    def effective_timeout(self) -> int:
        """This type's timeout in seconds: its own, or the JOBQUEUE DEFAULT_TIMEOUT."""
        return int(self.values.get("timeout") or 0) or int(jobqueue_settings.DEFAULT_TIMEOUT)


def resolve(
    name: str,
    code: Mapping[str, Any],
    record: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    prefix: str,
    settings_model: Any = None,
    record_settings: Mapping[str, Any] | None = None,
) -> EffectiveConfig:
    """Layer code defaults < record values (non-null) < environment pins, per value."""
    values = dict(code)
    sources = dict.fromkeys(code, Source.CODE)
    config = EffectiveConfig(name=name, values=values, sources=sources)
    for option_name, option in OPTIONS.items():
        stored = record.get(option_name)
        if stored is not None:
            try:
                values[option_name] = option.validate(stored)
                sources[option_name] = Source.DATABASE
            except ConfigurationError as exc:
                config.errors.append(f"record value of {option_name!r} ignored: {exc}")
        variable = env_var(prefix, name, option_name)
        if not is_blank(environ.get(variable)):
            config.pins[option_name] = variable
            try:
                values[option_name] = option.parse(environ[variable])
                sources[option_name] = Source.ENVIRONMENT
            except ConfigurationError as exc:
                config.errors.append(f"{variable}={environ[variable]!r}: {exc}")
    if settings_model is not None:
        _resolve_settings(config, settings_model, record_settings or {}, environ, prefix)
    return config


def _resolve_settings(
    config: EffectiveConfig,
    model: Any,
    record_settings: Mapping[str, Any],
    environ: Mapping[str, str],
    prefix: str,
) -> None:
    from pydantic import ValidationError

    data: dict[str, Any] = {}
    for field_name in model.model_fields:
        config.settings_sources[field_name] = Source.CODE
        if field_name in record_settings:
            data[field_name] = record_settings[field_name]
            config.settings_sources[field_name] = Source.DATABASE
        variable = env_var(prefix, config.name, f"settings_{field_name}")
        if variable in environ:
            data[field_name] = environ[variable]
            config.pins[f"settings.{field_name}"] = variable
            config.settings_sources[field_name] = Source.ENVIRONMENT
    try:
        config.settings = model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            field_name = str(err["loc"][0]) if err.get("loc") else ""
            origin = config.pins.get(f"settings.{field_name}") or f"settings.{field_name}"
            config.errors.append(f"{origin}: {err['msg']}")


def placement_errors(
    *, priority: Any, run_after: Any, delay: Any, unique_key: Any, now: datetime
) -> tuple[int | None, datetime | None, dict[str, list[str]]]:
    """Check the options an enqueue may carry: returns (priority, run_after, errors by field).

    Pure, so that a running job's follow-ups are checked when it enqueues them, before the
    engine writes them with its success."""
    errors: dict[str, list[str]] = {}
    if priority is not None:
        try:
            priority = OPTIONS["priority"].validate(priority)
        except ValueError as exc:
            errors["priority"] = [str(exc)]
    if run_after is not None and delay is not None:
        errors["delay"] = ["give run_after or delay, not both"]
    elif delay is not None:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else delay
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0 or seconds != seconds:
            errors["delay"] = ["must be a non-negative number of seconds"]
        else:
            run_after = now + timedelta(seconds=seconds)
    elif run_after is not None and (not isinstance(run_after, datetime) or run_after.tzinfo is None):
        errors["run_after"] = ["must be timezone-aware"]
    if unique_key is not None and (not isinstance(unique_key, str) or not 0 < len(unique_key) <= 255):
        errors["unique_key"] = ["must be a string of 1 to 255 characters"]
    return priority, run_after, errors
