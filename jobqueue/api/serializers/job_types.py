"""Job types: their effective configuration with the source of each value, schemas and counts
(secrets masked), and the PATCH of a record's option columns and settings."""

from __future__ import annotations

import enum
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobqueue.api.serializers.strict import StrictSerializer
from jobqueue.exceptions import ConfigurationError
from jobqueue.models import JobType
from jobqueue.options import OPTIONS, Option, RateLimit, Schedule, Source, is_blank
from jobqueue.registry import registry
from jobqueue.secrets import MASK, mask, secret_fields
from jobqueue.typeconfig import resolve_for

_SOURCES = [s.value for s in Source]


class ConfigValueSerializer(serializers.Serializer):
    value = serializers.JSONField(allow_null=True)
    source = serializers.ChoiceField(choices=_SOURCES)
    pinned_by = serializers.CharField(allow_null=True, help_text="the environment variable that pins the value")


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
    base["enabled"] = bool(config.values["enabled"])
    base["config"] = {
        name: {"value": plain(config.values[name]), "source": config.sources[name], "pinned_by": config.pins.get(name)}
        for name in OPTIONS
    }
    base["schedule"] = {
        "value": plain(config.values["schedule"]) if config.values["schedule"] is not None else None,
        "timezone": config.values["schedule_timezone"],
    }
    base["payload_schema"] = definition.payload_schema()
    if definition.settings_model is not None:
        secrets = secret_fields(definition.settings_model)
        current = config.settings.model_dump(mode="json") if config.settings is not None else {}
        base["settings"] = {
            name: {
                "value": mask(current.get(name)) if name in secrets else current.get(name),
                "source": config.settings_sources.get(name, Source.CODE),
                "pinned_by": config.pins.get(f"settings.{name}"),
            }
            for name in definition.settings_model.model_fields
        }
        base["settings_schema"] = _masked_schema(definition.settings_schema() or {}, secrets)
    return base


def _masked_schema(schema: dict[str, Any], secrets: set[str]) -> dict[str, Any]:
    # A secret's default is a secret too: never publish it, even in the schema.
    properties = {
        name: ({k: v for k, v in prop.items() if k != "default"} if name in secrets else prop)
        for name, prop in schema.get("properties", {}).items()
    }
    return {**schema, "properties": properties}


class OptionField(serializers.Field):
    """One option of a PATCH, validated by the option itself (`Option.parse`), as the admin form
    and environment pins are: null or a blank string clears the record's value (back to code)."""

    def __init__(self, option: Option) -> None:
        self.option = option
        super().__init__(required=False, allow_null=True, help_text=option.help)
        text = {"type": "string", "maxLength": option.max_length}
        # Any value may also be sent as text, in the forms environment pins take.
        schema = text if option.json_type == "string" else {"oneOf": [{"type": option.json_type}, text]}
        extend_schema_field(schema)(self)

    def to_internal_value(self, data: Any) -> Any:
        if is_blank(data):
            return None
        try:
            return self.option.to_record(self.option.parse(data))
        except ConfigurationError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Any) -> Any:
        return value


class JobTypeChangeSerializer(StrictSerializer):
    """PATCH: any subset of the record's options (null: back to the code default) and settings."""

    settings = serializers.DictField(
        required=False, help_text=f"the whole settings object; a secret sent back as {MASK} keeps its value"
    )

    unknown_message = "not an editable field"

    def get_fields(self) -> dict[str, serializers.Field]:
        return {**{name: OptionField(option) for name, option in OPTIONS.items()}, **super().get_fields()}
