"""A request serializer that refuses fields it does not know and values of the wrong JSON type."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pydantic
from rest_framework import serializers

from jobqueue.exceptions import pydantic_errors

# A request body is JSON: each field takes its JSON type only (DRF would turn 0 into "0", "5" into 5
# and "true" into True), as the OpenAPI document says.
JSON_TYPES: tuple[tuple[type[serializers.Field], tuple[type, ...], str], ...] = (
    (serializers.BooleanField, (bool,), "a boolean"),
    (serializers.IntegerField, (int,), "an integer"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.CharField, (str,), "a string"),
    # DRF would read an integer as a UUID (UUID(int=0)) and a number as a timestamp.
    (serializers.UUIDField, (str,), "a string"),
    (serializers.DateTimeField, (str,), "a string"),
)


class StrictSerializer(serializers.Serializer):
    unknown_message = "unknown field"

    def to_internal_value(self, data: Any) -> Any:
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        if isinstance(data, Mapping):
            wrong = self._wrong_types(data)
            if wrong:
                raise serializers.ValidationError(wrong)
        value = super().to_internal_value(data)
        if unknown:
            raise serializers.ValidationError({str(name): [self.unknown_message] for name in unknown})
        return value

    def _wrong_types(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        wrong: dict[str, list[str]] = {}
        for name, field in self.fields.items():
            if name in data:
                wrong.update(json_type_errors(field, data[name], name))
        return wrong


def json_type_errors(field: serializers.Field, value: Any, path: str) -> dict[str, list[str]]:
    """{path: ["must be ..."]} when `value` is not of the field's JSON type (items of a list too)."""
    if value is None and field.allow_null:
        return {}
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return {}  # the field's own message ("Expected a list of items")
        errors: dict[str, list[str]] = {}
        for index, item in enumerate(value):
            errors.update(json_type_errors(field.child, item, f"{path}.{index}"))
        return errors
    for kind, accepted, label in JSON_TYPES:
        if isinstance(field, kind):
            if not isinstance(value, accepted) or (bool not in accepted and isinstance(value, bool)):
                return {path: [f"must be {label}"]}
            break
    return {}


def schema_rules(serializer: type[StrictSerializer]) -> dict[str, Any]:
    """The cross-field rules of a request serializer, as JSON Schema keywords (see `schema_rules`
    on the serializer classes); published in the OpenAPI document."""
    rules = getattr(serializer, "schema_rules", None)
    return dict(rules) if rules else {}


def raise_unless_strict_json(model: type[pydantic.BaseModel], data: Any, prefix: str) -> None:
    """A ValidationError naming `<prefix>.<field>` unless `data` has the JSON types of the model's
    published schema: pydantic's strict JSON mode, so that "5" is no integer and false no number,
    as the OpenAPI document says. (Python callers keep pydantic's lax mode.)"""
    try:
        model.model_validate_json(json.dumps(data), strict=True)
    except pydantic.ValidationError as exc:
        errors = pydantic_errors(exc)
        raise serializers.ValidationError(
            {f"{prefix}.{path}" if path else prefix: messages for path, messages in errors.items()}
        ) from None
