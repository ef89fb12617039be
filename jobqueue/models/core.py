"""The tables: JobType (configuration records), Job (queue and history), Attempt, DeadLetter."""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from jobqueue.config.options import OPTIONS
from jobqueue.exceptions import ConfigurationError

_id_lock = threading.Lock()
_last_id = 0  # the latest id's 48-bit time and 74 random bits, as one number


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): unguessable like uuid4, but time-ordered so inserts stay local
    in the primary-key index as the history grows. Within a process each id is greater than
    the one before (RFC 9562 6.2: within one millisecond the random part is incremented), so
    jobs enqueued together sort by id in the order they were made: where the claim index
    orders ties by primary key (MariaDB's InnoDB), equal jobs are claimed first in, first out."""
    global _last_id
    millis = time.time_ns() // 1_000_000
    payload = ((millis & ((1 << 48) - 1)) << 74) | (int.from_bytes(os.urandom(10), "big") & ((1 << 74) - 1))
    with _id_lock:
        if payload <= _last_id:
            payload = _last_id + 1
        _last_id = payload
    return uuid_of(_layout(payload))


def uuid_of(number: int) -> uuid.UUID:
    """`uuid.UUID(int=number)` for a number made here. A UUID holds its number and `is_safe`
    in two slots; its __init__ only parses and checks its arguments (a 128-bit number made by
    new_id or new_id_numbers needs neither), at twice the cost."""
    value = object.__new__(uuid.UUID)
    object.__setattr__(value, "int", number)
    object.__setattr__(value, "is_safe", uuid.SafeUUID.unknown)
    return value


def _layout(payload: int) -> int:
    """The UUIDv7 (as its 128-bit number) of a 48-bit millisecond time and 74 random bits."""
    return (
        ((payload >> 74) << 80)  # unix_ts_ms
        | _VERSION_AND_VARIANT
        | (((payload >> 62) & 0xFFF) << 64)  # rand_a
        | (payload & _RAND_B)
    )


_VERSION_AND_VARIANT = (0x7 << 76) | (0x2 << 62)  # version 7, the RFC 4122 variant
_RAND_B = (1 << 62) - 1
_TIME = (1 << 48) - 1


def new_id_numbers(count: int) -> list[int]:
    """`count` new ids as their 128-bit numbers (`uuid.UUID(int=n)` is the id), with the
    properties of `new_id()` (time-ordered, each greater than the one before in this process,
    74 random bits) at a fraction of its cost: one `os.urandom` for all of them, one clock
    read and one turn of the lock. Within one millisecond an id that would not be greater
    than the last one made is the last one plus a random step of up to 2**32 (RFC 9562 6.2,
    method 2), so that neighbours stay unguessable, where `new_id()` adds one."""
    global _last_id
    base = (time.time_ns() // 1_000_000 & _TIME) << 74
    words = memoryview(os.urandom(16 * count)).cast("Q")  # two 64-bit words per id
    numbers = []
    with _id_lock:
        last = _last_id
        for index in range(0, 2 * count, 2):
            low = words[index]
            payload = base | (low << 10) | (words[index + 1] >> 54)
            if payload <= last:
                payload = last + 1 + (low & 0xFFFFFFFF)
            last = payload
            numbers.append(_layout(payload))
        _last_id = last
    return numbers


class JobTypeQuerySet(models.QuerySet["JobType"]):
    def registered(self) -> JobTypeQuerySet:
        return self.filter(registered=True)

    def orphaned(self) -> JobTypeQuerySet:
        return self.filter(registered=False)


class JobType(models.Model):
    """The database record of a job type: operator overrides of its code defaults.

    Every option column is nullable: null means "use the value declared in code". A record
    whose definition is gone from the code is kept with `registered=False`, and nothing of
    its type runs.
    """

    name = models.CharField(max_length=63, unique=True)
    description = models.TextField(blank=True)
    version = models.CharField(max_length=50, blank=True)
    defined_in = models.CharField(max_length=255, blank=True, help_text="module.qualname of the definition")
    registered = models.BooleanField(default=True, help_text="false when the code no longer defines this type")

    enabled = models.BooleanField(null=True, blank=True)
    priority = models.SmallIntegerField(null=True, blank=True)
    max_attempts = models.PositiveIntegerField(null=True, blank=True)
    timeout = models.PositiveIntegerField(null=True, blank=True, help_text="seconds")
    concurrency = models.PositiveIntegerField(null=True, blank=True, help_text="0 means unlimited")
    # Null means "inherit from code" on these text columns, distinct from an explicit "off".
    rate_limit = models.CharField(max_length=50, null=True, blank=True, help_text="e.g. 30/60s, or off")  # noqa: DJ001
    partition_concurrency = models.PositiveIntegerField(null=True, blank=True, help_text="0 means unlimited")
    partition_rate_limit = models.CharField(  # noqa: DJ001
        max_length=50, null=True, blank=True, help_text="e.g. 50/15m, or off"
    )
    batch_size = models.PositiveIntegerField(null=True, blank=True)
    async_concurrency = models.PositiveIntegerField(null=True, blank=True, help_text="async types: jobs per worker")
    backoff_base = models.FloatField(null=True, blank=True, help_text="seconds")
    backoff_factor = models.FloatField(null=True, blank=True)
    backoff_max = models.FloatField(null=True, blank=True, help_text="seconds")
    backoff_jitter = models.FloatField(null=True, blank=True, help_text="fraction, 0..1")
    schedule = models.CharField(max_length=100, null=True, blank=True, help_text="seconds, a cron expression, or off")  # noqa: DJ001
    schedule_timezone = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    overlap = models.BooleanField(null=True, blank=True)
    retention = models.PositiveIntegerField(null=True, blank=True, help_text="seconds")
    settings = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    objects = JobTypeQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def option_values(self) -> dict[str, Any]:
        """The record's override columns, by option name (None: not overridden)."""
        return {name: getattr(self, name) for name in OPTIONS}

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        for name, value in self.option_values().items():
            if value is None:
                continue
            try:
                OPTIONS[name].validate(value)
            except ConfigurationError as exc:
                errors.setdefault(name, []).append(str(exc))
        if not isinstance(self.settings, dict):
            errors.setdefault("settings", []).append("settings must be a JSON object")
        if errors:
            raise ValidationError(errors)


class Status(models.TextChoices):
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    # Waiting for the jobs it depends on (`enqueue(after=...)`); never claimed. Not in WAITING,
    # which names the statuses a claim takes from.
    BLOCKED = "blocked"


WAITING = (Status.QUEUED, Status.SCHEDULED, Status.RETRYING)
ACTIVE = (*WAITING, Status.RUNNING)
FINISHED = (Status.SUCCEEDED, Status.DEAD, Status.CANCELLED, Status.SKIPPED)


class JobQuerySet(models.QuerySet["Job"]):
    def waiting(self) -> JobQuerySet:
        return self.filter(status__in=WAITING)

    def ready(self, now: Any = None) -> JobQuerySet:
        return self.filter(status__in=WAITING, run_after__lte=now or timezone.now())

    def running(self) -> JobQuerySet:
        return self.filter(status=Status.RUNNING)

    def finished(self) -> JobQuerySet:
        return self.filter(status__in=FINISHED)

    def dead(self) -> JobQuerySet:
        return self.filter(status=Status.DEAD)


class Job(models.Model):
    """One unit of work of a job type: a row in the queue while it waits, its history after."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    # No index of its own: jq_job_type_status and jq_job_type_created lead with it (every index
    # is one more write at each status change, which PostgreSQL cannot do as a HOT update).
    job_type = models.ForeignKey(JobType, on_delete=models.PROTECT, related_name="jobs", db_index=False)
    payload = models.JSONField(default=dict)
    priority = models.SmallIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0, help_text="attempts used, counted at claim")
    max_attempts = models.PositiveIntegerField(default=3)
    run_after = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True, help_text="start of the latest attempt")
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="when the latest attempt was claimed")
    claimed_by = models.CharField(max_length=64, blank=True, help_text="the cluster holding the lease")
    worker = models.CharField(max_length=128, blank=True, help_text="host:pid of the running worker")
    timeout = models.PositiveIntegerField(null=True, blank=True, help_text="seconds, fixed when the attempt starts")
    result = models.JSONField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    progress = models.FloatField(null=True, blank=True)
    progress_message = models.CharField(max_length=255, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # Null (not "") for "no key", so that a unique index on the key ignores keyless jobs.
    unique_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns", db_index=False
    )
    created_by = models.CharField(max_length=150, blank=True)
    # The workflow the job belongs to: every job of one `Workflow` shares it.
    workflow_id = models.UUIDField(null=True, blank=True)
    # The W3C trace context (`traceparent`, `tracestate`) of the enqueue, with the `otel` extra
    # and a tracer provider; the worker continues the trace from it (jobqueue.tracing).
    trace_context = models.JSONField(null=True, blank=True)
    # The partition value of a partitioned type's job (its `@job(partition=...)`, computed at
    # enqueue): its concurrency and rate limit hold per value, and ready jobs are claimed
    # round robin across values. "" for the jobs of other types (also the database's default,
    # for rows written by SQL of its own, as the bench's). No index of its own: the claim
    # reads it from rows its other indexes find (waiting, or running, jobs of a type).
    partition_key = models.CharField(max_length=255, blank=True, default="", db_default="")

    objects = JobQuerySet.as_manager()

    # Set on the instance enqueue() returns when an equal unique job already existed.
    is_duplicate = False

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The claim: highest priority first, oldest first within a priority, and jobs due
            # at the same moment in the order they were made (ids are time-ordered UUIDv7).
            models.Index(
                fields=["-priority", "run_after", "id"],
                name="jq_job_claim",
                condition=Q(status__in=list(WAITING)),
            ),
            # When the next scheduled or retrying job falls due (idle clusters sleep until then).
            models.Index(
                fields=["run_after"],
                name="jq_job_due",
                condition=Q(status__in=list(WAITING)),
            ),
            # A partition value's head (the partitioned claim probes one value at a time), and
            # whether a value still has a job that may wait again (running, or blocked on its
            # dependencies). MariaDB: jq_job_partition_head_gen (migration 0022) instead.
            models.Index(
                fields=["job_type", "partition_key", "-priority", "run_after", "id"],
                name="jq_job_partition_head",
                condition=Q(status__in=list(WAITING)),
            ),
            models.Index(
                fields=["job_type", "partition_key", "status"],
                name="jq_job_partition_live",
                condition=Q(status__in=["running", "blocked"]),
            ),
            # Concurrency counts and lease reclaim only ever look at running jobs. No index
            # holds lease_expires_at: a start or a lease renewal then writes no index entry
            # (on PostgreSQL a heap-only update; migration 0024).
            models.Index(fields=["job_type"], name="jq_job_running_type", condition=Q(status="running")),
            # The admin's and the API's filters, newest first.
            models.Index(fields=["job_type", "status", "-created_at"], name="jq_job_type_status"),
            models.Index(fields=["status", "-created_at"], name="jq_job_status_created"),
            models.Index(fields=["-created_at"], name="jq_job_created"),
            # Holders of a unique key; partial, so that the many keyless jobs never write to it.
            models.Index(
                fields=["job_type", "unique_key"], name="jq_job_unique_key", condition=Q(unique_key__isnull=False)
            ),
            # The re-runs of a job (admin); most jobs are no re-run.
            models.Index(fields=["rerun_of"], name="jq_job_rerun_of", condition=Q(rerun_of__isnull=False)),
            models.Index(fields=["job_type", "-created_at"], name="jq_job_type_created"),
            # Retention and the rollup read finished jobs by their end; partial, so that a job
            # writes to it once, when it finishes, not at its insert, claim and start too.
            models.Index(fields=["finished_at"], name="jq_job_finished", condition=Q(finished_at__isnull=False)),
            models.Index(fields=["workflow_id"], name="jq_job_workflow", condition=Q(workflow_id__isnull=False)),
        ]
        constraints = [
            # A unique job: one waiting or running job per key and type, enforced by the
            # database so that concurrent enqueues from many processes cannot both insert.
            models.UniqueConstraint(
                fields=["job_type", "unique_key"],
                name="jq_job_unique_active",
                # ACTIVE, in the order its migration wrote it (a reordered list is a new migration).
                condition=Q(
                    status__in=[*WAITING[:2], Status.RUNNING, WAITING[2]],
                    unique_key__isnull=False,
                ),
            ),
        ]
        permissions = [
            ("rerun_job", "Can re-run jobs"),
            ("cancel_job", "Can cancel jobs"),
        ]

    def __str__(self) -> str:
        return f"{self.job_type_id and self.job_type.name} {self.id}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class Outcome(models.TextChoices):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CRASHED = "crashed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    SNOOZED = "snoozed"  # the job asked to run again later; the attempt is not spent


class Attempt(models.Model):
    """One execution of a job by a worker."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attempt_set")
    # The job's type, copied when the attempt is recorded, so that the failures view reads the
    # failed attempts of a window without a lookup into the job table per attempt (most of its
    # time over a big history). No index and no constraint: nothing searches by it alone, the
    # job's own foreign key protects the type, and SQLite adds the column without a table copy.
    # Null for attempts recorded before migration 0012: readers fall back to the job's type.
    job_type = models.ForeignKey(
        JobType,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_index=False,
        db_constraint=False,
        related_name="+",
    )
    number = models.PositiveIntegerField()
    cluster = models.CharField(max_length=64, blank=True)
    host = models.CharField(max_length=128, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error_type = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    logs = models.JSONField(default=list, blank=True)
    batch_id = models.UUIDField(null=True, blank=True, help_text="shared by the attempts of one batch execution")

    class Meta:
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="jq_attempt_job_number")]
        indexes = [
            models.Index(fields=["finished_at"], name="jq_attempt_finished"),
            models.Index(fields=["outcome", "finished_at"], name="jq_attempt_outcome"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.job_id}: {self.outcome}"


class DeadReason(models.TextChoices):
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    PERMANENT_ERROR = "permanent_error"
    UNREGISTERED_TYPE = "unregistered_type"
    INVALID_PAYLOAD = "invalid_payload"


class Resolution(models.TextChoices):
    REQUEUED = "requeued"
    DISCARDED = "discarded"


class DeadLetterQuerySet(models.QuerySet["DeadLetter"]):
    def unresolved(self) -> DeadLetterQuerySet:
        return self.filter(resolution="")

    def resolved(self) -> DeadLetterQuerySet:
        return self.exclude(resolution="")


class DeadLetter(models.Model):
    """A job that gave up: why, its last error, and what an operator did about it."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="dead_letter")
    job_type = models.ForeignKey(JobType, on_delete=models.PROTECT, related_name="dead_letters")
    reason = models.CharField(max_length=32, choices=DeadReason.choices)
    error_type = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    payload = models.JSONField(default=dict)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolution_reason = models.TextField(blank=True)
    requeued_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = DeadLetterQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["resolution", "-created_at"], name="jq_dl_resolution"),
            models.Index(fields=["job_type", "-created_at"], name="jq_dl_type"),
            # The metrics count dead letters by when they were created, over a window.
            models.Index(fields=["created_at"], name="jq_dl_created"),
        ]
        permissions = [
            ("requeue_deadletter", "Can re-queue dead letters"),
            ("discard_deadletter", "Can discard dead letters"),
        ]

    def __str__(self) -> str:
        return f"dead letter of {self.job_id} ({self.reason})"

    @property
    def is_resolved(self) -> bool:
        return bool(self.resolution)


class ClusterHeartbeat(models.Model):
    """One row per running qcluster, refreshed every few seconds by its pusher."""

    key = models.CharField(max_length=64, primary_key=True, help_text="host:pid:random, fixed for the cluster's life")
    host = models.CharField(max_length=128)
    pid = models.PositiveIntegerField()
    workers = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True)
    claimed = models.PositiveBigIntegerField(default=0, help_text="jobs claimed since the cluster started")

    class Meta:
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["-last_seen_at"], name="jq_cluster_seen")]

    def __str__(self) -> str:
        return self.key


class ApiToken(models.Model):
    """A REST API credential: only a SHA-256 hash of the secret is stored."""

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="jobqueue_api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True, help_text="the token's first characters, for lookup")
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # Without it a user issues, revokes and edits only their own tokens: a token is
        # its owner's identity, so one for someone else is acting as them.
        permissions = [("issue_token_for_others", "Can issue, revoke and edit API tokens of other users")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class UniqueLock(models.Model):
    """Holds a unique key for its type's `Unique(period=...)` after the job was enqueued."""

    job_type = models.ForeignKey(JobType, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    job = models.ForeignKey(Job, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job_type", "key"], name="jq_unique_lock")]
        indexes = [models.Index(fields=["expires_at"], name="jq_unique_lock_expiry")]

    def __str__(self) -> str:
        return f"{self.job_type_id}:{self.key}"


class RateLimitStart(models.Model):
    """One row per job start of a rate-limited type: the window the claim counts in. `at` is
    the start, or NULL while the claim waits for a worker (counted in every window)."""

    job_type = models.ForeignKey(JobType, on_delete=models.CASCADE, related_name="+")
    job_id = models.UUIDField()
    at = models.DateTimeField(null=True)
    # The job's partition value: a partitioned type's window is one per value.
    partition_key = models.CharField(max_length=255, blank=True, default="", db_default="")

    class Meta:
        indexes = [
            models.Index(fields=["job_type", "at"], name="jq_rate_window"),
            models.Index(fields=["job_id"], name="jq_rate_job"),
        ]

    def __str__(self) -> str:
        return f"{self.job_type_id}@{self.at}"


class ScheduleState(models.Model):
    """Where a job type's schedule stands: the last slot taken, and skips.

    Taking a slot is a conditional UPDATE (last_slot < slot), so across any number of
    clusters each slot produces at most one job.
    """

    job_type = models.OneToOneField(JobType, on_delete=models.CASCADE, related_name="schedule_state")
    last_slot = models.DateTimeField(null=True, blank=True)
    last_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    skipped = models.PositiveIntegerField(default=0)
    last_skip_at = models.DateTimeField(null=True, blank=True)
    last_skip_reason = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"schedule of {self.job_type_id}"
