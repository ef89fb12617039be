"""Filters the console's templates use: relative times, status badges and short ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils.safestring import SafeString

from jobqueue.admin import display

register = template.Library()


@register.filter
def jq_time(value: datetime | None) -> SafeString:
    return display.relative_time(value)


@register.filter
def jq_badge(value: str) -> SafeString:
    return display.badge(str(value))


@register.filter
def jq_short_id(value: Any, url: str = "") -> SafeString:
    return display.short_id(value, url)
