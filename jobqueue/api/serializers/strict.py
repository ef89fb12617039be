"""A request serializer that refuses fields it does not know and values of the wrong JSON type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

# A request body is JSON: each field takes its JSON type only (DRF would turn 0 into "0", "5" into 5
# and "true" into True), as the OpenAPI document says.
JSON_TYPES: tuple[tuple[type[serializers.Field], tuple[type, ...], str], ...] = (
    (serializers.BooleanField, (bool,), "a boolean"),
    (serializers.IntegerField, (int,), "an integer"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.CharField, (str,), "a string"),
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
            if name not in data or (data[name] is None and field.allow_null):
                continue
            value = data[name]
            for kind, accepted, label in JSON_TYPES:
                if isinstance(field, kind):
                    if not isinstance(value, accepted) or (bool not in accepted and isinstance(value, bool)):
                        wrong[name] = [f"must be {label}"]
                    break
        return wrong


def schema_rules(serializer: type[StrictSerializer]) -> dict[str, Any]:
    """The cross-field rules of a request serializer, as JSON Schema keywords (see `schema_rules`
    on the serializer classes); published in the OpenAPI document."""
    rules = getattr(serializer, "schema_rules", None)
    return dict(rules) if rules else {}
