"""Failures of a window grouped by job type, error type and normalised message.

A group is what an operator acts on: "send_tweet, TimeoutError: upstream timed out after <n> s",
with how often it happened, since when, a sparkline, a sample traceback, and the unresolved dead
letters it left. Messages are normalised (numbers, ids, uuids, hex and quoted values replaced)
so that one failure mode is one group. The failed attempts of the window are read over the
(outcome, finished_at) index, newest first, at most MAX_ATTEMPTS of them, each with the job type
recorded on it (no lookup of its job); the dead letters over the (created_at) index.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from django.db.models import BigIntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Substr
from django.utils import timezone

from jobqueue.models import Attempt, DeadLetter, Job, JobType
from jobqueue.observability.metrics import FAILED_OUTCOMES, window_delta
from jobqueue.observability.rollup import EpochSeconds

# The newest failed attempts one report reads; older ones in the window are counted as "more".
MAX_ATTEMPTS = 20_000
MESSAGE_CHARS = 500
SPARK_POINTS = 24

# One pass over the message: the first alternative that matches at a position wins, in this order.
_VARIABLE = re.compile(
    r"(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"
    r"|(?P<hex>\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{16,}\b)"
    r"|(?P<single>'(?:[^'\\\n]|\\.)*')"
    r'|(?P<double>"(?:[^"\\\n]|\\.)*")'
    r"|(?P<number>(?<![A-Za-z_])[-+]?\d+(?:[.,:]\d+)*)"
    r"|(?P<space>\s+)"
)
_BY = {"uuid": "<uuid>", "hex": "<hex>", "single": "'<value>'", "double": '"<value>"', "number": "<n>", "space": " "}


def _replace(match: re.Match[str]) -> str:
    return _BY[match.lastgroup or "space"]


@lru_cache(maxsize=8192)
def normalise(message: str) -> str:
    """The message with its variable parts replaced, first line only, at most 200 characters."""
    lines = message.strip().splitlines()
    return _VARIABLE.sub(_replace, lines[0] if lines else "").strip()[:200]


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
    sample_message: str = ""

    # Seconds since 1970 while the rows are read (a datetime per row costs more than the query).
    _first: int | None = None
    _last: int | None = None

    def seen(self, epoch: int) -> None:
        self._first = epoch if self._first is None else min(self._first, epoch)
        self._last = epoch if self._last is None else max(self._last, epoch)

    def close(self) -> None:
        if self._first is not None and self._last is not None:
            self.first_seen = datetime.fromtimestamp(self._first, UTC)
            self.last_seen = datetime.fromtimestamp(self._last, UTC)

    def sample(self) -> Sample:
        """The newest attempt of the group (its job and traceback), or else its newest dead letter."""
        if self.sample_attempt_id is not None:
            found = Attempt.objects.filter(pk=self.sample_attempt_id).values_list("job_id", "traceback").first()
            if found is not None:
                return Sample(found[0], found[1])
        candidates = DeadLetter.objects.unresolved().filter(job_type_id=self.job_type_id, error_type=self.error_type)
        for job_id, message, traceback in candidates.order_by("-created_at").values_list(
            "job_id", "error_message", "traceback"
        )[:100]:
            if normalise(message[:MESSAGE_CHARS]) == self.message:
                return Sample(job_id, traceback)
        return Sample(None, "")


@dataclass(frozen=True)
class Sample:
    job_id: uuid.UUID | None
    traceback: str


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
        self.origin, self.span = since.timestamp(), max((now - since).total_seconds(), 1.0)
        self.names = dict(JobType.objects.values_list("pk", "name"))
        self.by_cause: dict[tuple[int, str, str], FailureGroup] = {}

    def get(self, type_id: int, error_type: str, message: str) -> FailureGroup:
        cause = (type_id, error_type, normalise(message))
        group = self.by_cause.get(cause)
        if group is None:
            name = self.names.get(type_id, "?")
            group = FailureGroup(group_key(name, error_type, cause[2]), name, type_id, error_type, cause[2])
            self.by_cause[cause] = group
        return group

    def point(self, epoch: int) -> int:
        return min(SPARK_POINTS - 1, max(0, int((epoch - self.origin) / self.span * SPARK_POINTS)))


def report(window: str = "24h", now: datetime | None = None, job_type: str | None = None) -> FailureReport:
    """The failure groups of a window (optionally of one job type), the most frequent first."""
    now = now or timezone.now()
    since = now - window_delta(window)
    groups = _Groups(since, now)
    dead = DeadLetter.objects.unresolved().filter(created_at__gt=since, created_at__lte=now)
    if job_type is not None:
        dead = dead.filter(job_type__name=job_type)
    rows = _attempt_rows(since, now, job_type)
    truncated = len(rows) > MAX_ATTEMPTS
    for pk, type_id, finished, error_type, message in rows[:MAX_ATTEMPTS]:
        group = groups.get(type_id, error_type, message)
        group.count += 1
        group.seen(finished)
        group.series[groups.point(finished)] += 1
        if group.sample_attempt_id is None:  # rows are newest first
            group.sample_attempt_id, group.sample_message = pk, message
    for type_id, created, error_type, message in _dead_rows(dead):
        group = groups.get(type_id, error_type, message)
        group.dead_letters += 1
        group.seen(created)
        group.sample_message = group.sample_message or message
    for group in groups.by_cause.values():
        group.close()
    ordered = sorted(groups.by_cause.values(), key=lambda g: (-g.count, -g.dead_letters, g.job_type, g.message))
    return FailureReport(window, since, now, ordered, min(len(rows), MAX_ATTEMPTS), truncated)


def _attempt_rows(since: datetime, now: datetime, job_type: str | None) -> list[tuple[Any, ...]]:
    """The newest failed attempts of the window (at most MAX_ATTEMPTS + 1), newest first.

    One query per failed outcome, so that each is a range of the (outcome, finished_at) index:
    with `outcome IN (...)` SQLite prefers the finished_at index and reads every attempt of the
    window, a few hundred thousand rows for a week instead of a few thousand."""
    rows: list[tuple[Any, ...]] = []
    # The type recorded on the attempt; only attempts recorded before it was (migration 0012)
    # look their job up, one by one (COALESCE evaluates the subquery only for those).
    recorded_type = Coalesce(
        "job_type_id",
        Subquery(Job.objects.filter(pk=OuterRef("job_id")).order_by().values("job_type_id")),
        output_field=BigIntegerField(),
    )
    for outcome in FAILED_OUTCOMES:
        attempts = Attempt.objects.filter(outcome=outcome, finished_at__gt=since, finished_at__lte=now).annotate(
            type_id=recorded_type
        )
        if job_type is not None:
            attempts = attempts.filter(type_id__in=JobType.objects.filter(name=job_type).values("pk"))
        rows += (
            attempts.order_by("-finished_at")
            .annotate(short=Substr("error_message", 1, MESSAGE_CHARS), epoch=EpochSeconds("finished_at"))
            .values_list("pk", "type_id", "epoch", "error_type", "short")[: MAX_ATTEMPTS + 1]
        )
    rows.sort(key=lambda row: row[2], reverse=True)
    return rows[: MAX_ATTEMPTS + 1]


def _dead_rows(queryset: QuerySet[DeadLetter]) -> list[tuple[Any, ...]]:
    return list(
        queryset.order_by("-created_at")
        .annotate(short=Substr("error_message", 1, MESSAGE_CHARS))
        .annotate(epoch=EpochSeconds("created_at"))
        .values_list("job_type_id", "epoch", "error_type", "short")
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
