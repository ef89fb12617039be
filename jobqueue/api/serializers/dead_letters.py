"""Dead letters: as returned, their list filters, and the requeue / discard requests."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from jobqueue.api.serializers.strict import StrictSerializer
from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import DeadLetter, Resolution


class DeadLetterSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="job_type.name")
    job = serializers.UUIDField(source="job_id")
    requeued_job = serializers.UUIDField(source="requeued_job_id", allow_null=True)
    resolved = serializers.BooleanField(source="is_resolved")
    resolution = serializers.ChoiceField(choices=[("", "unresolved"), *Resolution.choices])

    class Meta:
        model = DeadLetter
        fields = [
            "id",
            "job",
            "type",
            "reason",
            "error_type",
            "error_message",
            "traceback",
            "payload",
            "attempts",
            "created_at",
            "resolved",
            "resolution",
            "resolved_at",
            "resolved_by",
            "resolution_reason",
            "requeued_job",
        ]
        read_only_fields = fields


class DeadLetterFilterSerializer(serializers.Serializer):
    type = serializers.CharField(required=False, max_length=63)
    resolved = serializers.BooleanField(required=False, allow_null=True, default=None)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class RequeueSerializer(StrictSerializer):
    payload = serializers.JSONField(
        required=False, allow_null=True, help_text="a corrected payload, validated like an enqueue; null: keep it"
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class DiscardSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000)


class BulkRequeueSerializer(StrictSerializer):
    """Unresolved dead letters chosen by `ids`, or by filter (`type`, `created_after`, `created_before`)."""

    ids = serializers.ListField(child=serializers.UUIDField(), required=False, allow_empty=False)
    type = serializers.CharField(required=False, max_length=63)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    schema_rules = {"anyOf": [{"required": [name]} for name in ("ids", "type", "created_after", "created_before")]}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        limit = jobqueue_settings.API_BULK_MAX
        if not {"ids", "type", "created_after", "created_before"} & set(attrs):
            raise serializers.ValidationError("choose dead letters by ids, or by type and/or dates")
        if len(attrs.get("ids", [])) > limit:
            raise serializers.ValidationError({"ids": [f"at most {limit} ids per call"]})
        return attrs


class BulkRequeuedSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.UUIDField(), help_text="the new jobs")
    failed = serializers.DictField(
        child=serializers.CharField(), help_text="dead letter id -> why it was not re-queued"
    )
