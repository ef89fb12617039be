"""How option values are read: the validators of `OPTIONS` and the RateLimit and Schedule types.

Each validator takes a value in any accepted form (code, a record's column, text) and returns
it normalised, or raises ConfigurationError with a message that says what to use instead.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jobqueue.exceptions import ConfigurationError

# Upper bounds: a value past them is a typo (a timeout in milliseconds, a retention in ms), and
# they keep every value inside its database column and Python's timedelta.
MAX_ATTEMPTS = 1000
MAX_TIMEOUT = 30 * 86400
MAX_CONCURRENCY = 100_000
MAX_BATCH_SIZE = 10_000
MAX_ASYNC_CONCURRENCY = 10_000
MAX_RETENTION = 10 * 365 * 86400

# A schedule interval or rate period past this is a typo (milliseconds), and would overflow
# timedelta; a rate count past MAX_RATE_COUNT would overflow the database's integers.
MAX_SCHEDULE_INTERVAL = 10 * 365 * 86400
MAX_RATE_COUNT = 1_000_000_000
_OFF = {"none", "null", "off", "unlimited"}
_RATE_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]*)\s*$")


@dataclass(frozen=True)
class RateLimit:
    """At most `count` job starts in any `period` seconds, across all clusters."""

    count: int
    period: float

    def __str__(self) -> str:
        # Fixed-point, never an exponent: the text form is stored and parsed again.
        return f"{self.count}/{f'{self.period:.6f}'.rstrip('0').rstrip('.')}s"

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
        try:
            count, period = int(count), float(period)
        except (TypeError, ValueError, OverflowError):
            raise ConfigurationError(f"rate limit {value!r} needs a whole count and a number of seconds") from None
        if not (1 <= count <= MAX_RATE_COUNT and 0.000001 <= period <= MAX_SCHEDULE_INTERVAL):
            raise ConfigurationError(
                f"rate limit {value!r} needs a count from 1 to {MAX_RATE_COUNT} "
                f"and a period from 0.000001 to {MAX_SCHEDULE_INTERVAL} seconds"
            )
        return cls(count, period)


@dataclass(frozen=True)
class Schedule:
    """Either every `interval` seconds, or on a five-field `cron` expression."""

    interval: float | None = None
    cron: str | None = None

    def __str__(self) -> str:
        # Fixed-point, never an exponent: "1234567", not "1.23457e+06" (the text is stored).
        return self.cron if self.cron else f"{self.interval:.6f}".rstrip("0").rstrip(".")

    @classmethod
    def parse(cls, value: Any) -> Schedule:
        if isinstance(value, Schedule):
            return value
        if isinstance(value, timedelta):
            value = value.total_seconds()
        if isinstance(value, bool):
            raise ConfigurationError(f"schedule {value!r} is neither seconds nor a cron expression")
        if isinstance(value, int | float) or (isinstance(value, str) and is_number(value)):
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


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- validators: take a value in any accepted form, return it normalised, or raise --------


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
    raise ConfigurationError(f"{value!r} is not a boolean; use true or false")


def parse_number(value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise ConfigurationError(f"{value!r} is not a number")
    try:
        number = kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigurationError(f"{value!r} is not {'an integer' if kind is int else 'a number'}") from None
    if kind is int and isinstance(value, float) and value != number:
        raise ConfigurationError(f"{value!r} is not an integer")
    return number


def int_between(low: int, high: int | None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        number = parse_number(value, int)
        if number < low or (high is not None and number > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise ConfigurationError(f"{number} is out of range: use an integer {bound}")
        return int(number)

    return check


def float_between(low: float, high: float | None, *, low_open: bool = False) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        number = float(parse_number(value, float))
        too_low = number <= low if low_open else number < low
        if too_low or (high is not None and number > high) or number != number:
            lower = f"greater than {low:g}" if low_open else f"at least {low:g}"
            bound = f"{lower} and at most {high:g}" if high is not None else lower
            raise ConfigurationError(f"{value!r} is out of range: use a number {bound}")
        return number

    return check


def seconds(high: int) -> Callable[[Any], int | None]:
    """Whole seconds from 1 to `high` (fractions round up); None (in code) means "not set"."""

    def check(value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, timedelta):
            value = value.total_seconds()
        number = parse_number(value, float)
        if not 0 < number <= high:
            raise ConfigurationError(f"{value!r} is out of range: use a number of seconds from 1 to {high}")
        return int(number) if number == int(number) else int(number) + 1

    return check


def unset_or(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """None (in code: "not set", a setting applies), or a value `check` accepts."""

    def wrapped(value: Any) -> Any:
        return None if value is None else check(value)

    return wrapped


def optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """None, or a word for "off" (any case), turns the option off."""

    def wrapped(value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in _OFF):
            return None
        return check(value)

    return wrapped


def unlimited_if_zero(high: int) -> Callable[[Any], int | None]:
    """An integer from 0 to `high`, where 0 and "off" mean unlimited (None): a record's null
    already means "inherit", so it needs a value of its own for "unlimited"."""

    def check(value: Any) -> int | None:
        if value is None or (isinstance(value, str) and value.strip().lower() in _OFF):
            return None
        return int_between(0, high)(value) or None

    return check


def timezone_name(value: Any) -> str:
    name = str(value).strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a directory
        raise ConfigurationError(
            f"{value!r} is not a known time zone; use an IANA name such as 'Europe/Paris'"
        ) from None
    return name
