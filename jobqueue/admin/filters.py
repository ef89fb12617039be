"""List filters that never scan the history: Django's default filter of an integer column lists
its distinct values (`SELECT DISTINCT priority FROM jobqueue_job`, a full scan of a million rows)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from jobqueue.config.options import Priority

# Ranges between the named levels, highest first: a priority may be any integer from -100 to 100.
PRIORITY_RANGES = {
    "critical": ("critical (100)", Q(priority__gte=Priority.CRITICAL)),
    "high": ("high (50 to 99)", Q(priority__gte=Priority.HIGH, priority__lt=Priority.CRITICAL)),
    "medium": ("medium (25 to 49)", Q(priority__gte=Priority.MEDIUM, priority__lt=Priority.HIGH)),
    "normal": ("normal (0 to 24)", Q(priority__gte=Priority.NORMAL, priority__lt=Priority.MEDIUM)),
    "low": ("low (below 0)", Q(priority__lt=Priority.NORMAL)),
}


class PriorityFilter(admin.SimpleListFilter):
    title = "priority"
    parameter_name = "priority"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _) in PRIORITY_RANGES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        chosen = PRIORITY_RANGES.get(self.value() or "")
        return queryset if chosen is None else queryset.filter(chosen[1])
