"""The options a job type can set: their validation, their text form, and the three-layer resolver.

One table (`OPTIONS`) serves `@job` (code defaults), the `JobType` record (admin form and API
PATCH, through `Option.parse` and `Option.to_record`), and environment pins
(`JOBQUEUE_<TYPE>_<OPTION>`), so the layers can never disagree on what a valid value is.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from jobqueue.config.settings import jobqueue_settings
from jobqueue.config.values import (
    MAX_ASYNC_CONCURRENCY,
    MAX_ATTEMPTS,
    MAX_BATCH_SIZE,
    MAX_CONCURRENCY,
    MAX_RETENTION,
    MAX_TIMEOUT,
    RateLimit,
    Schedule,
    boolean,
    float_between,
    int_between,
    optional,
    seconds,
    timezone_name,
    unlimited_if_zero,
    unset_or,
)
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
    # What an unset value (None) means, as the admin shows it.
    unset: str = "off"

    def parse(self, value: Any) -> Any:
        """A value given by a person (an environment pin, an admin form field, an API field),
        validated and normalised; raises ConfigurationError with the fix. The one gate of the
        three: whatever one accepts, the others accept."""
        if isinstance(value, str):
            if len(value) > self.max_length:
                raise ConfigurationError(f"is longer than {self.max_length} characters")
        elif not isinstance(value, bool | int | float):
            raise ConfigurationError(f"{str(value)[:50]!r} is not a single value: give a {self.json_type}")
        return self.validate(value)

    def to_text(self, value: Any) -> str:
        """The form stored in a record's text column or shown in the admin."""
        if value is None:
            return "off"
        return str(value)

    def show(self, value: Any) -> str:
        """A value as the admin shows it: yes/no, what unset means, or its text form."""
        if value is None:
            return self.unset
        if isinstance(value, bool):
            return "yes" if value else "no"
        return self.to_text(value)


# fmt: off
OPTIONS: dict[str, Option] = {
    option.name: option
    for option in [
        Option("enabled", boolean, "whether jobs of this type are claimed; a disabled type keeps its jobs queued", json_type="boolean"),
        Option("priority", int_between(-100, 100), "-100..100, higher runs first", json_type="integer"),
        Option("max_attempts", int_between(1, MAX_ATTEMPTS), f"attempts in all, counting the first (1..{MAX_ATTEMPTS})", json_type="integer"),
        Option(
            "timeout", seconds(MAX_TIMEOUT), f"seconds an attempt may run before it is stopped (1..{MAX_TIMEOUT})",
            json_type="integer", unset="none (DEFAULT_TIMEOUT)",
        ),
        Option(
            "concurrency", unlimited_if_zero(MAX_CONCURRENCY),
            f"jobs of this type running at once across all clusters (0..{MAX_CONCURRENCY}; 0 or off: unlimited)",
            to_record=_unlimited_as_zero, json_type="integer",
        ),
        Option(
            "rate_limit", optional(RateLimit.parse), "job starts per period across all clusters, e.g. 30/60s, or off",
            to_record=_off_as_text, max_length=50,
        ),
        Option(
            "partition_concurrency", unlimited_if_zero(MAX_CONCURRENCY),
            f"partitioned types: jobs of one partition value running at once across all clusters (0..{MAX_CONCURRENCY}; "
            "0 or off: unlimited)",
            to_record=_unlimited_as_zero, json_type="integer",
        ),
        Option(
            "partition_rate_limit", optional(RateLimit.parse),
            "partitioned types: job starts of one partition value per period across all clusters, e.g. 50/15m, or off",
            to_record=_off_as_text, max_length=50,
        ),
        Option("batch_size", int_between(1, MAX_BATCH_SIZE), "jobs claimed together into one attempt of execute_batch", json_type="integer"),
        Option(
            "async_concurrency", unset_or(int_between(1, MAX_ASYNC_CONCURRENCY)),
            f"async types: jobs one worker runs at once on its event loop (1..{MAX_ASYNC_CONCURRENCY}); "
            "empty: the ASYNC_CONCURRENCY setting",
            json_type="integer", unset="none (ASYNC_CONCURRENCY)",
        ),
        Option("backoff_base", float_between(0, 1e7, low_open=True), "seconds before the second attempt", json_type="number"),
        Option("backoff_factor", float_between(1, 1000), "each further delay is this many times the previous", json_type="number"),
        Option("backoff_max", float_between(0, 1e8, low_open=True), "no retry delay is longer than this (seconds)", json_type="number"),
        Option("backoff_jitter", float_between(0, 1), "random spread of each delay, as a fraction (0..1)", json_type="number"),
        Option("schedule", optional(Schedule.parse), "interval in seconds, or a cron expression, or off", to_record=_off_as_text),
        Option(
            "schedule_timezone", optional(timezone_name), "time zone of a cron schedule (default: TIME_ZONE), or off",
            to_record=_off_as_text, max_length=64, unset="none (TIME_ZONE)",
        ),
        Option("overlap", boolean, "whether a scheduled run may start while the previous one is queued or running", json_type="boolean"),
        Option(
            "retention", seconds(MAX_RETENTION), f"seconds finished jobs are kept (1..{MAX_RETENTION})",
            json_type="integer", unset="none (DEFAULT_RETENTION)",
        ),
    ]
}
# fmt: on


@dataclass(frozen=True, kw_only=True)
class OptionValues:
    """A job type's option values: one field per entry of `OPTIONS`, typed as its validator
    returns it, defaulting to what `@job` gives a type that does not set it."""

    enabled: bool = True
    priority: int = int(Priority.NORMAL)
    max_attempts: int = 3
    timeout: int | None = None  # None: the DEFAULT_TIMEOUT setting
    concurrency: int | None = None  # None: unlimited
    rate_limit: RateLimit | None = None
    partition_concurrency: int | None = None  # None: no limit per partition value
    partition_rate_limit: RateLimit | None = None
    batch_size: int = 1
    async_concurrency: int | None = None  # None: the ASYNC_CONCURRENCY setting
    backoff_base: float = 30.0
    backoff_factor: float = 2.0
    backoff_max: float = 3600.0
    backoff_jitter: float = 0.1
    schedule: Schedule | None = None
    schedule_timezone: str | None = None  # None: TIME_ZONE
    overlap: bool = True
    retention: int | None = None  # None: the DEFAULT_RETENTION setting

    @property
    def values(self) -> Mapping[str, Any]:
        """Every option's value by its name, read-only: for tables of all options (the admin's,
        the API's); code that reads one option reads its attribute, which is typed."""
        return MappingProxyType({name: getattr(self, name) for name in OPTIONS})

    @property
    def effective_timeout(self) -> int:
        """This type's timeout in seconds: its own, or the JOBQUEUE DEFAULT_TIMEOUT."""
        return self.timeout or jobqueue_settings.DEFAULT_TIMEOUT


CODE_DEFAULTS: Mapping[str, Any] = MappingProxyType({f.name: f.default for f in fields(OptionValues)})


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


@dataclass(frozen=True, kw_only=True)
class EffectiveConfig(OptionValues):
    """What a job type runs with (its option values, typed), and where each value came from."""

    name: str
    sources: dict[str, Source] = field(default_factory=dict)  # by option; empty: all code defaults
    pins: dict[str, str] = field(default_factory=dict)  # option or settings.<field> -> variable
    settings: BaseModel | None = None  # an instance of the type's Settings model, or None
    settings_sources: dict[str, Source] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def resolve(
    name: str,
    code: Mapping[str, Any],
    record: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    prefix: str,
    settings_model: type[BaseModel] | None = None,
    record_settings: Mapping[str, Any] | None = None,
) -> EffectiveConfig:
    """Layer code defaults < record values (non-null) < environment pins, per value."""
    values = dict(code)
    sources = dict.fromkeys(code, Source.CODE)
    pins: dict[str, str] = {}
    errors: list[str] = []
    for option_name, option in OPTIONS.items():
        stored = record.get(option_name)
        if stored is not None:
            try:
                values[option_name] = option.validate(stored)
                sources[option_name] = Source.DATABASE
            except ConfigurationError as exc:
                errors.append(f"record value of {option_name!r} ignored: {exc}")
        variable = env_var(prefix, name, option_name)
        if not is_blank(environ.get(variable)):
            pins[option_name] = variable
            try:
                values[option_name] = option.parse(environ[variable])
                sources[option_name] = Source.ENVIRONMENT
            except ConfigurationError as exc:
                errors.append(f"{variable}={environ[variable]!r}: {exc}")
    settings: BaseModel | None = None
    settings_sources: dict[str, Source] = {}
    if settings_model is not None:
        settings, settings_sources = _resolve_settings(
            name, settings_model, record_settings or {}, environ, prefix, pins, errors
        )
    return EffectiveConfig(
        **values,
        name=name,
        sources=sources,
        pins=pins,
        settings=settings,
        settings_sources=settings_sources,
        errors=errors,
    )


def _resolve_settings(
    name: str,
    model: type[BaseModel],
    record_settings: Mapping[str, Any],
    environ: Mapping[str, str],
    prefix: str,
    pins: dict[str, str],
    errors: list[str],
) -> tuple[BaseModel | None, dict[str, Source]]:
    """The type's Settings (None if they do not validate) and each field's source; adds each
    field's pin to `pins` and each refused value to `errors`."""
    data: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for field_name in model.model_fields:
        sources[field_name] = Source.CODE
        if field_name in record_settings:
            data[field_name] = record_settings[field_name]
            sources[field_name] = Source.DATABASE
        variable = env_var(prefix, name, f"settings_{field_name}")
        if variable in environ:
            data[field_name] = environ[variable]
            pins[f"settings.{field_name}"] = variable
            sources[field_name] = Source.ENVIRONMENT
    try:
        return model.model_validate(data), sources
    except ValidationError as exc:
        for err in exc.errors():
            field_name = str(err["loc"][0]) if err.get("loc") else ""
            origin = pins.get(f"settings.{field_name}") or f"settings.{field_name}"
            errors.append(f"{origin}: {err['msg']}")
        return None, sources


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
