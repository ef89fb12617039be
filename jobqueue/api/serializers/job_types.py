"""Job types: their effective configuration with the source of each value, schemas and counts
(secrets as "set" / "not set" and when last changed), and the PATCH of a record's option columns
and settings."""

from __future__ import annotations

import enum
import re
import zoneinfo
from typing import Any

import pydantic
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobqueue.api.serializers.strict import StrictSerializer, raise_unless_strict_json
from jobqueue.config.effective import resolve_for
from jobqueue.config.options import OPTIONS, Option, RateLimit, Schedule, Source
from jobqueue.config.values import (
    MAX_ASYNC_CONCURRENCY,
    MAX_ATTEMPTS,
    MAX_BATCH_SIZE,
    MAX_CONCURRENCY,
    MAX_RETENTION,
    MAX_SCHEDULE_INTERVAL,
    MAX_TIMEOUT,
)
from jobqueue.exceptions import ConfigurationError
from jobqueue.models import JobType
from jobqueue.registry import registry
from jobqueue.secrets.sealing import MASK, SecretState, secret_fields

_SOURCES = [s.value for s in Source]


class ConfigValueSerializer(serializers.Serializer):
    value = serializers.JSONField(allow_null=True, help_text="null for a secret setting: its value is never shown")
    source = serializers.ChoiceField(choices=_SOURCES)
    pinned_by = serializers.CharField(allow_null=True, help_text="the environment variable that pins the value")
    state = serializers.ChoiceField(
        choices=["set", "not set"], required=False, help_text="secret settings only: whether a value is set"
    )
    changed_at = serializers.DateTimeField(
        allow_null=True,
        required=False,
        help_text="secret settings only: when the stored value was last set (null for one from the environment "
        "or the code)",
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        shown = dict(super().to_representation(instance))
        if "state" not in instance:  # not a secret: no state to tell
            shown.pop("state", None)
            shown.pop("changed_at", None)
        return shown


class CountsSerializer(serializers.Serializer):
    ready = serializers.IntegerField()
    running = serializers.IntegerField()
    dead = serializers.IntegerField(help_text="unresolved dead letters")


class ScheduleSerializer(serializers.Serializer):
    value = serializers.CharField(allow_null=True, help_text="seconds between runs, or a cron expression")
    timezone = serializers.CharField(allow_null=True)


class JobTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    version = serializers.CharField()
    enabled = serializers.BooleanField()
    registered = serializers.BooleanField()
    config = serializers.DictField(child=ConfigValueSerializer(), allow_null=True)
    settings = serializers.DictField(child=ConfigValueSerializer(), allow_null=True)
    schedule = ScheduleSerializer(allow_null=True)
    payload_schema = serializers.JSONField(allow_null=True)
    settings_schema = serializers.JSONField(allow_null=True)
    counts = CountsSerializer()


def plain(value: Any) -> Any:
    """An effective option value as JSON (rate limits and schedules in their text form)."""
    if isinstance(value, RateLimit | Schedule):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def describe(record: JobType, counts: dict[str, int]) -> dict[str, Any]:
    """Everything the API shows of one job type; settings marked secret are masked."""
    base: dict[str, Any] = {
        "name": record.name,
        "description": record.description,
        "version": record.version,
        "enabled": bool(record.enabled) if record.enabled is not None else True,
        "registered": record.registered and record.name in registry,
        "config": None,
        "settings": None,
        "schedule": None,
        "payload_schema": None,
        "settings_schema": None,
        "counts": counts,
    }
    if not base["registered"]:
        return base
    definition = registry.get(record.name)
    config = resolve_for(definition, record)
    base["enabled"] = config.enabled
    base["config"] = {
        name: {"value": plain(config.values[name]), "source": config.sources[name], "pinned_by": config.pins.get(name)}
        for name in OPTIONS
    }
    base["schedule"] = {
        "value": plain(config.schedule) if config.schedule is not None else None,
        "timezone": config.schedule_timezone,
    }
    base["payload_schema"] = definition.payload_schema()
    if definition.settings_model is not None:
        secrets = secret_fields(definition.settings_model)
        current = config.settings.model_dump(mode="json") if config.settings is not None else {}
        base["settings"] = {}
        for name in definition.settings_model.model_fields:
            source = config.settings_sources.get(name, Source.CODE)
            entry: dict[str, Any] = {
                "value": current.get(name),
                "source": source,
                "pinned_by": config.pins.get(f"settings.{name}"),
            }
            if name in secrets:
                stored = (record.settings or {}).get(name) if source == Source.DATABASE else None
                state = SecretState.of(getattr(config.settings, name, None), stored)
                entry.update(value=None, state=state.label, changed_at=state.changed_at)
            base["settings"][name] = entry
        base["settings_schema"] = _masked_schema(definition.settings_schema() or {}, secrets)
    return base


def _masked_schema(schema: dict[str, Any], secrets: set[str]) -> dict[str, Any]:
    # A secret's default is a secret too: never publish it, even in the schema.
    properties = {
        name: ({k: v for k, v in prop.items() if k != "default"} if name in secrets else prop)
        for name, prop in schema.get("properties", {}).items()
    }
    return {**schema, "properties": properties}


def _list_of(item: str) -> str:
    return f"({item})(,({item}))*"


def _cron_field(value: str, step: str) -> str:
    return rf"(\*|\*/({step})|{_list_of(value)})"


# The API's cron form: five fields of `*`, `*/step` or a list of values, one space apart; a
# day of the month up to 28, so that every expression the schema allows fires every month.
CRON = " ".join(
    (
        _cron_field("[0-5]?[0-9]", "[1-9]|[1-5][0-9]"),
        _cron_field("1?[0-9]|2[0-3]", "[1-9]|1[0-9]|2[0-3]"),
        _cron_field("[1-9]|1[0-9]|2[0-8]", "[1-9]|1[0-9]|2[0-8]"),
        _cron_field("[1-9]|1[0-2]", "[1-9]|1[0-2]"),
        _cron_field("[0-6]", "[1-6]"),
    )
)
# N/period with a unit, within MAX_RATE_COUNT and MAX_SCHEDULE_INTERVAL whatever the unit.
RATE = r"[1-9][0-9]{0,8}/(([1-9][0-9]{0,7})?s|([1-9][0-9]{0,5})?m|([1-9][0-9]{0,3})?h|([1-9][0-9]{0,2})?d)"


def _integer(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


def _number(low: float, high: float, *, low_open: bool = False) -> dict[str, Any]:
    return {"type": "number", ("exclusiveMinimum" if low_open else "minimum"): low, "maximum": high}


# What the API takes for each option: its JSON type within the option's bounds, and "off" for
# the string options that can be off (the other text forms of the admin and of environment pins
# are not offered), so that the OpenAPI document says exactly which values are accepted. Every
# value allowed here passes `Option.parse`; seconds may have a fraction, which rounds up there.
OPTION_SCHEMAS: dict[str, dict[str, Any]] = {
    "enabled": {"type": "boolean"},
    "priority": _integer(-100, 100),
    "max_attempts": _integer(1, MAX_ATTEMPTS),
    "timeout": _number(0, MAX_TIMEOUT, low_open=True),
    "concurrency": _integer(0, MAX_CONCURRENCY),
    "rate_limit": {"type": "string", "pattern": f"^(off|{RATE})$", "maxLength": OPTIONS["rate_limit"].max_length},
    "partition_concurrency": _integer(0, MAX_CONCURRENCY),
    "partition_rate_limit": {
        "type": "string",
        "pattern": f"^(off|{RATE})$",
        "maxLength": OPTIONS["partition_rate_limit"].max_length,
    },
    "batch_size": _integer(1, MAX_BATCH_SIZE),
    "async_concurrency": _integer(1, MAX_ASYNC_CONCURRENCY),
    "backoff_base": _number(0, 1e7, low_open=True),
    "backoff_factor": _number(1, 1000),
    "backoff_max": _number(0, 1e8, low_open=True),
    "backoff_jitter": _number(0, 1),
    "schedule": {
        "oneOf": [
            _number(1, MAX_SCHEDULE_INTERVAL),
            {"type": "string", "pattern": f"^(off|{CRON})$", "maxLength": OPTIONS["schedule"].max_length},
        ],
    },
    "schedule_timezone": {"type": "string", "enum": ["off", *sorted(zoneinfo.available_timezones())]},
    "overlap": {"type": "boolean"},
    "retention": _number(0, MAX_RETENTION, low_open=True),
}


def schema_error(schema: dict[str, Any], value: Any) -> str | None:
    """Why `value` does not match one of OPTION_SCHEMAS (None when it does)."""
    if "oneOf" in schema:
        problems = [schema_error(alternative, value) for alternative in schema["oneOf"]]
        return None if None in problems else " or ".join(p for p in problems if p)
    kind = schema["type"]
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "string":
        if not isinstance(value, str):
            return "must be a string"
        if "enum" in schema and value not in schema["enum"]:
            return f"{value[:64]!r} is not a known time zone; use an IANA name such as 'Europe/Paris', or off"
        if len(value) > schema.get("maxLength", len(value)):
            return f"is longer than {schema['maxLength']} characters"
        if "pattern" in schema and not re.fullmatch(schema["pattern"].strip("^$"), value):
            return f"{value[:64]!r} does not match {schema['pattern']}"
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (kind == "integer" and isinstance(value, float))
    ):
        return f"must be {'an integer' if kind == 'integer' else 'a number'}"
    low, high = schema.get("minimum"), schema["maximum"]
    if (low is not None and value < low) or value > high or value <= schema.get("exclusiveMinimum", float("-inf")):
        bound = f"at least {low:g}" if low is not None else f"greater than {schema['exclusiveMinimum']:g}"
        return f"{value!r} is out of range: use {bound} and at most {high:g}"
    return None


class OptionField(serializers.Field):
    """One option of a PATCH: a JSON value as OPTION_SCHEMAS declares it, then validated by the
    option itself (`Option.parse`), as the admin form and environment pins are; null clears the
    record's value (back to the code default)."""

    def __init__(self, option: Option) -> None:
        self.option = option
        self.schema = OPTION_SCHEMAS[option.name]
        super().__init__(required=False, allow_null=True, help_text=option.help)
        # null clears the record's value. drf-spectacular adds it to a oneOf, but drops it from an
        # enum it moves into a component of its own: so an enum goes in as a oneOf of one.
        extend_schema_field({"oneOf": [self.schema]} if "enum" in self.schema else self.schema)(self)

    def to_internal_value(self, data: Any) -> Any:
        problem = schema_error(self.schema, data)
        if problem is not None:
            raise serializers.ValidationError(problem)
        try:
            return self.option.to_record(self.option.parse(data))
        except ConfigurationError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Any) -> Any:
        return value


def check_settings_json(model: type[pydantic.BaseModel] | None, settings: dict[str, Any]) -> None:
    """Raise a ValidationError naming `settings.<field>` unless the settings have the JSON types
    of the type's published settings schema (pydantic's strict JSON mode, as for payloads);
    unknown and pinned fields are the services' errors."""
    if model is None or not settings:
        return
    known = {key: value for key, value in settings.items() if key in model.model_fields}
    raise_unless_strict_json(model, known, "settings")


class JobTypeChangeSerializer(StrictSerializer):
    """PATCH: any subset of the record's options (null: back to the code default) and settings."""

    settings = serializers.DictField(
        required=False,
        help_text=f"the settings to change (the others keep their values); a secret left out, or sent as {MASK}, "
        "keeps its value",
    )

    unknown_message = "not an editable field"

    def get_fields(self) -> dict[str, serializers.Field]:
        return {**{name: OptionField(option) for name, option in OPTIONS.items()}, **super().get_fields()}
