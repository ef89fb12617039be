"""A request serializer that refuses fields it does not know, rather than silently dropping them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    unknown_message = "unknown field"

    def to_internal_value(self, data: Any) -> Any:
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        value = super().to_internal_value(data)
        if unknown:
            raise serializers.ValidationError({str(name): [self.unknown_message] for name in unknown})
        return value
