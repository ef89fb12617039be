"""Failures of a window grouped by job type, error type and normalised message.

A group is what an operator acts on: "send_tweet, TimeoutError: upstream timed out after <n> s",
with how often it happened, since when, a sparkline, a sample traceback, and the unresolved dead
letters it left. Messages are normalised (numbers, ids, uuids, hex and quoted values replaced)
so that one failure mode is one group. The failed attempts of the window are read over the
(outcome, finished_at) index, newest first, at most MAX_ATTEMPTS of them; the dead letters over
the (created_at) index.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from jobqueue.metrics import FAILED_OUTCOMES, window_delta
from jobqueue.models import Attempt, DeadLetter, JobType

# The newest failed attempts one report reads; older ones in the window are counted as "more".
MAX_ATTEMPTS = 20_000
MESSAGE_CHARS = 500
SPARK_POINTS = 24

_REPLACEMENTS = [
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{16,}\b"), "<hex>"),
    (re.compile(r"'(?:[^'\\\n]|\\.)*'"), "'<value>'"),
    (re.compile(r'"(?:[^"\\\n]|\\.)*"'), '"<value>"'),
    (re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:[.,:]\d+)*"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def normalise(message: str) -> str:
    """The message with its variable parts replaced, first line only, at most 200 characters."""
    lines = message.strip().splitlines()
    text = lines[0] if lines else ""
    for pattern, replacement in _REPLACEMENTS:
        text = pattern.sub(replacement, text)
    return text.strip()[:200]


def group_key(job_type: str, error_type: str, message: str) -> str:
    """A stable short key of a group, for URLs."""
    return hashlib.sha256(f"{job_type}\0{error_type}\0{message}".encode()).hexdigest()[:16]


@dataclass
class FailureGroup:
    key: str
    job_type: str
    job_type_id: int
    error_type: str
    message: str
    count: int = 0
    dead_letters: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    series: list[int] = field(default_factory=lambda: [0] * SPARK_POINTS)
    sample_attempt_id: int | None = None
    sample_job_id: uuid.UUID | None = None
    sample_dead_letter_id: uuid.UUID | None = None
    sample_message: str = ""

    def seen(self, moment: datetime) -> None:
        self.first_seen = moment if self.first_seen is None else min(self.first_seen, moment)
        self.last_seen = moment if self.last_seen is None else max(self.last_seen, moment)

    def sample_traceback(self) -> str:
        """The traceback of the newest attempt of the group (or of its newest dead letter)."""
        if self.sample_attempt_id is not None:
            found = Attempt.objects.filter(pk=self.sample_attempt_id).values_list("traceback", flat=True).first()
            if found:
                return found
        if self.sample_dead_letter_id is not None:
            return (
                DeadLetter.objects.filter(pk=self.sample_dead_letter_id).values_list("traceback", flat=True).first()
                or ""
            )
        return ""


@dataclass(frozen=True)
class FailureReport:
    window: str
    since: datetime
    now: datetime
    groups: list[FailureGroup]
    attempts: int  # failed attempts read
    truncated: bool  # more than MAX_ATTEMPTS failed: the oldest were not read

    def group(self, key: str) -> FailureGroup | None:
        return next((g for g in self.groups if g.key == key), None)


class _Groups:
    def __init__(self, since: datetime, now: datetime) -> None:
        self.since, self.span = since, max((now - since).total_seconds(), 1.0)
        self.names = dict(JobType.objects.values_list("pk", "name"))
        self.by_key: dict[str, FailureGroup] = {}

    def get(self, type_id: int, error_type: str, message: str) -> FailureGroup:
        name = self.names.get(type_id, "?")
        normalised = normalise(message)
        key = group_key(name, error_type, normalised)
        if key not in self.by_key:
            self.by_key[key] = FailureGroup(key, name, type_id, error_type, normalised)
        return self.by_key[key]

    def point(self, moment: datetime) -> int:
        return min(SPARK_POINTS - 1, max(0, int((moment - self.since).total_seconds() / self.span * SPARK_POINTS)))


def report(window: str = "24h", now: datetime | None = None, job_type: str | None = None) -> FailureReport:
    """The failure groups of a window (optionally of one job type), the most frequent first."""
    now = now or timezone.now()
    since = now - window_delta(window)
    groups = _Groups(since, now)
    attempts = Attempt.objects.filter(outcome__in=FAILED_OUTCOMES, finished_at__gt=since, finished_at__lte=now)
    dead = DeadLetter.objects.unresolved().filter(created_at__gt=since, created_at__lte=now)
    if job_type is not None:
        attempts = attempts.filter(job__job_type__name=job_type)
        dead = dead.filter(job_type__name=job_type)
    rows = list(
        attempts.order_by("-finished_at")
        .annotate(short=Substr("error_message", 1, MESSAGE_CHARS))
        .values_list("pk", "job_id", "job__job_type_id", "finished_at", "error_type", "short")[: MAX_ATTEMPTS + 1]
    )
    truncated = len(rows) > MAX_ATTEMPTS
    for pk, job_id, type_id, finished, error_type, message in rows[:MAX_ATTEMPTS]:
        group = groups.get(type_id, error_type, message)
        group.count += 1
        group.seen(finished)
        group.series[groups.point(finished)] += 1
        if group.sample_attempt_id is None:  # rows are newest first
            group.sample_attempt_id, group.sample_job_id, group.sample_message = pk, job_id, message
    for pk, type_id, created, error_type, message in _dead_rows(dead):
        group = groups.get(type_id, error_type, message)
        group.dead_letters += 1
        group.seen(created)
        if group.sample_dead_letter_id is None:
            group.sample_dead_letter_id = pk
            group.sample_message = group.sample_message or message
    ordered = sorted(groups.by_key.values(), key=lambda g: (-g.count, -g.dead_letters, g.job_type, g.message))
    return FailureReport(window, since, now, ordered, min(len(rows), MAX_ATTEMPTS), truncated)


def _dead_rows(queryset: QuerySet[DeadLetter]) -> list[tuple[Any, ...]]:
    return list(
        queryset.order_by("-created_at")
        .annotate(short=Substr("error_message", 1, MESSAGE_CHARS))
        .values_list("pk", "job_type_id", "created_at", "error_type", "short")
    )


def dead_letters(group: FailureGroup, since: datetime, until: datetime) -> list[DeadLetter]:
    """The group's unresolved dead letters created in (since, until]: what its actions apply to."""
    candidates = DeadLetter.objects.unresolved().filter(
        job_type_id=group.job_type_id, error_type=group.error_type, created_at__gt=since, created_at__lte=until
    )
    return [
        dead
        for dead in candidates.select_related("job_type", "job").order_by("created_at").iterator(chunk_size=500)
        if normalise(dead.error_message[:MESSAGE_CHARS]) == group.message
    ]
