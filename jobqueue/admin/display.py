"""Small HTML pieces the console's lists share: short ids, relative times, status badges, error
snippets and durations. Everything goes through format_html, so user text is escaped."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

# Statuses shown with the same colour: what an operator should look at first is red.
BADGE = {
    "queued": "waiting",
    "scheduled": "waiting",
    "retrying": "warning",
    "running": "active",
    "succeeded": "ok",
    "dead": "bad",
    "failed": "bad",
    "timed_out": "bad",
    "crashed": "bad",
    "cancelled": "muted",
    "skipped": "muted",
    "live": "ok",
    "lost": "bad",
    "stopped": "muted",
}


def short_id(value: Any, url: str = "") -> SafeString:
    """The first 8 characters of an id, the full id on hover and a button that copies it."""
    full = str(value)
    text = format_html('<span class="jq-id" title="{}">{}</span>', full, full[:8])
    if url:
        text = format_html('<a href="{}">{}</a>', url, text)
    return format_html(
        '{}<button type="button" class="jq-copy" data-copy="{}" aria-label="Copy the id {}" title="Copy the full id">'
        '<svg width="11" height="11" viewBox="0 0 11 11" aria-hidden="true" focusable="false">'
        '<rect x="3.5" y="0.5" width="7" height="7" fill="none" stroke="currentColor"/>'
        '<rect x="0.5" y="3.5" width="7" height="7" fill="#fff" stroke="currentColor"/></svg></button>',
        text,
        full,
        full,
    )


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'12 s ago', '5 min ago', '3 h ago', '2 d ago' (or 'in 5 min' for a future time)."""
    if moment is None:
        return "—"
    delta = (now or timezone.now()) - moment
    future = delta < timedelta(0)
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        text = f"{seconds:.0f} s"
    elif seconds < 3600:
        text = f"{seconds // 60:.0f} min"
    elif seconds < 86400 * 2:
        text = f"{seconds // 3600:.0f} h"
    else:
        text = f"{seconds // 86400:.0f} d"
    return f"in {text}" if future else f"{text} ago"


def relative_time(moment: datetime | None, now: datetime | None = None) -> SafeString:
    """A relative time with the absolute one (local time zone) on hover and in `datetime`."""
    if moment is None:
        return format_html("{}", "—")
    local = timezone.localtime(moment)
    return format_html(
        '<time class="jq-time" datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        f"{local:%Y-%m-%d %H:%M:%S %Z}",
        ago(moment, now),
    )


def badge(status: str) -> SafeString:
    return format_html('<span class="jq-badge jq-badge-{}">{}</span>', BADGE.get(status, "muted"), status)


def snippet(text: str, length: int = 80) -> SafeString:
    """The first line of an error, cut to `length` characters; the whole (first 1000) on hover."""
    if not text:
        return format_html("{}", "")
    first = text.strip().splitlines()[0] if text.strip() else ""
    short = first if len(first) <= length else first[: length - 1] + "…"
    return format_html('<span class="jq-snippet" title="{}">{}</span>', text[:1000], short)


def duration(started: datetime | None, finished: datetime | None) -> str:
    if started is None or finished is None:
        return "—"
    return milliseconds((finished - started).total_seconds() * 1000)


def milliseconds(ms: float | None) -> str:
    """'850 ms', '12.3 s', '4 min 10 s', '2 h 5 min'."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:.0f} min"
