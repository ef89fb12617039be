"""Jobs: the enqueue request, the job and its attempts as returned, and the list filters."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobqueue.api.serializers.strict import StrictSerializer, raise_unless_strict_json
from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import Attempt, Job, Status
from jobqueue.observability.search import QUERY_PATTERN
from jobqueue.registry import registry

SEARCH_MAX_LENGTH = 500


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": SEARCH_MAX_LENGTH, "pattern": QUERY_PATTERN})
class SearchField(serializers.CharField):
    """`?q=`: the schema's pattern is the search syntax itself, so a query the document allows
    is never refused; spaces are the parser's to strip (a blank query searches nothing)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, max_length=SEARCH_MAX_LENGTH, trim_whitespace=False, **kwargs)


class AttemptSerializer(serializers.ModelSerializer):
    worker = serializers.SerializerMethodField()
    started = serializers.DateTimeField(source="started_at", allow_null=True)
    finished = serializers.DateTimeField(source="finished_at")
    error = serializers.SerializerMethodField()

    class Meta:
        model = Attempt
        fields = ["number", "outcome", "worker", "started", "finished", "duration_ms", "error", "traceback", "logs"]

    def get_worker(self, attempt: Attempt) -> str:
        return f"{attempt.host}:{attempt.pid}" if attempt.host else ""

    def get_error(self, attempt: Attempt) -> str:
        if attempt.error_type:
            return f"{attempt.error_type}: {attempt.error_message}"
        return attempt.error_message


class JobSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="job_type.name")
    attempt_count = serializers.IntegerField(source="attempts")
    rerun_of = serializers.UUIDField(source="rerun_of_id", allow_null=True)
    progress = serializers.FloatField(allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "type",
            "status",
            "priority",
            "payload",
            "attempt_count",
            "max_attempts",
            "run_after",
            "created_at",
            "started_at",
            "finished_at",
            "worker",
            "result",
            "last_error",
            "progress",
            "progress_message",
            "cancel_requested_at",
            "unique_key",
            "partition_key",
            "rerun_of",
            "created_by",
        ]
        read_only_fields = fields


class JobDetailSerializer(JobSerializer):
    attempts = AttemptSerializer(source="attempt_set", many=True, read_only=True)

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "attempts"]
        read_only_fields = fields


class EnqueuedJobSerializer(JobSerializer):
    """The answer to an enqueue: the job, and whether it is an existing one (a unique job's duplicate)."""

    duplicate = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "duplicate"]
        read_only_fields = fields

    def get_duplicate(self, job: Job) -> bool:
        return bool(job.is_duplicate)


class EnqueueSerializer(StrictSerializer):
    """One job to enqueue. `type` names a registered job type; `payload` is checked against its
    schema by the services (the OpenAPI schema publishes one payload schema per job type)."""

    type = serializers.CharField(max_length=63)
    payload = serializers.JSONField(required=False, default=dict)
    priority = serializers.IntegerField(required=False, min_value=-100, max_value=100)
    run_after = serializers.DateTimeField(required=False)
    delay = serializers.FloatField(required=False, min_value=0, max_value=366 * 24 * 3600)
    # Kept as sent: trimming would make "  " blank, which the schema's minLength allows.
    unique_key = serializers.CharField(required=False, max_length=255, trim_whitespace=False)

    schema_rules = {"not": {"required": ["run_after", "delay"]}}

    def _bounded_run_after(self, value: datetime) -> datetime:
        """A run_after within [now - API_RUN_AFTER_SKEW, now + API_RUN_AFTER_HORIZON], clamped.

        Clamped rather than refused: the published schema cannot state bounds relative to the
        present, so a date it allows is taken, and the job shows the time it will really run
        after. Year 0001 no longer jumps the queue within its priority, and year 9999 waits no
        longer than the horizon."""
        now = timezone.now()
        earliest = now - timedelta(seconds=jobqueue_settings.API_RUN_AFTER_SKEW)
        latest = now + timedelta(seconds=jobqueue_settings.API_RUN_AFTER_HORIZON)
        if value < earliest:
            return now
        return min(value, latest)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "run_after" in attrs and "delay" in attrs:
            raise serializers.ValidationError({"delay": ["give run_after or delay, not both"]})
        if "run_after" in attrs:
            attrs["run_after"] = self._bounded_run_after(attrs["run_after"])
        check_payload_json(attrs["type"], attrs.get("payload"))
        return attrs


def check_payload_json(type_name: str, payload: Any) -> None:
    """Raise a ValidationError naming `payload.<field>` unless the payload has the JSON types its
    published schema gives: pydantic's strict JSON mode, so that "5" is no integer and false no
    number, as in the OpenAPI document. (Python callers of enqueue() keep pydantic's lax mode;
    an unknown type is the services' 400.)"""
    if type_name not in registry or payload is None:
        return
    raise_unless_strict_json(registry.get(type_name).payload_model, payload, "payload")


class RunNowSerializer(StrictSerializer):
    payload = serializers.JSONField(required=False, allow_null=True, default=dict, help_text="null: no payload")
    priority = serializers.IntegerField(required=False, min_value=-100, max_value=100)


class BulkEnqueueSerializer(StrictSerializer):
    jobs = serializers.ListField(child=serializers.DictField(), allow_empty=False)

    def validate_jobs(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        limit = jobqueue_settings.API_BULK_MAX
        if len(value) > limit:
            raise serializers.ValidationError(f"at most {limit} jobs per call, got {len(value)}")
        return value


class BulkEnqueuedSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.UUIDField())


class JobFilterSerializer(serializers.Serializer):
    type = serializers.CharField(required=False, max_length=63)
    status = serializers.ChoiceField(required=False, choices=Status.choices)
    priority = serializers.IntegerField(required=False, min_value=-100, max_value=100)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    unique_key = serializers.CharField(required=False, max_length=255)
    rerun_of = serializers.UUIDField(required=False)
    q = SearchField(
        help_text='search: type=send_tweet status=dead dao_id=42 text~"launch" error~timeout (see docs/api.md)',
    )


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
