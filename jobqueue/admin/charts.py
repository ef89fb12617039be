"""Charts for the dashboard, drawn on the server as inline SVG: no JavaScript, nothing fetched.

Every label is escaped through format_html; numbers are formatted here, never interpolated raw.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString

from jobqueue.observability.metrics import ThroughputPoint

SUCCEEDED = "#2e7d32"
FAILED = "#c62828"
PALETTE = ("#1565c0", "#ef6c00", "#6a1b9a")


def _time(value: datetime) -> str:
    return f"{timezone.localtime(value):%H:%M}"


def throughput(
    points: Sequence[ThroughputPoint], bucket_seconds: int, width: int = 720, height: int = 180
) -> SafeString:
    """Stacked bars per bucket: succeeded at the bottom, failed on top."""
    left, bottom, top = 40, 20, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((p.succeeded + p.failed for p in points), default=0) or 1
    bar_w = plot_w / max(len(points), 1)
    # Built as plain text: every piece is a number, a colour or a time formatted here (nothing from
    # a user), and format_html per bar costs milliseconds over a week of hourly bars.
    bars = []
    width_text = f"{max(bar_w - 1, 1):.1f}"
    for i, point in enumerate(points):
        if not (point.succeeded or point.failed):
            continue
        x = f"{left + i * bar_w:.1f}"
        ok_h = plot_h * point.succeeded / peak
        bad_h = plot_h * point.failed / peak
        label = f"{_time(point.start)}: {point.succeeded} succeeded, {point.failed} failed"
        for kind, colour, y, h, count in (
            ("ok", SUCCEEDED, top + plot_h - ok_h, ok_h, point.succeeded),
            ("failed", FAILED, top + plot_h - ok_h - bad_h, bad_h, point.failed),
        ):
            if count:
                bars.append(
                    f'<rect class="jq-bar jq-bar-{kind}" x="{x}" y="{y:.1f}" width="{width_text}" '
                    f'height="{h:.1f}" fill="{colour}"><title>{label}</title></rect>'
                )
    body = SafeString("".join(bars))
    first = _time(points[0].start) if points else ""
    last = _time(points[-1].start) if points else ""
    return format_html(
        '<svg class="jq-chart jq-throughput" role="img" aria-label="throughput per {} s" viewBox="0 0 {} {}" width="{}" height="{}">'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<text x="2" y="{}" font-size="10">{}</text><text x="2" y="{}" font-size="10">0</text>'
        '<text x="{}" y="{}" font-size="10">{}</text><text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>'
        "{}</svg>",
        bucket_seconds,
        width,
        height,
        width,
        height,
        left,
        top + plot_h,
        width - 10,
        top + plot_h,
        top + 8,
        peak,
        top + plot_h,
        left,
        height - 5,
        first,
        width - 10,
        height - 5,
        last,
        body,
    )


def horizontal_bars(
    rows: Sequence[tuple[str, Sequence[float | None]]], series: Sequence[str], unit: str, width: int = 720
) -> SafeString:
    """One group of bars per row (e.g. a job type's p50 / p95 / p99), on a shared scale."""
    label_w, bar_h, gap = 180, 10, 8
    group_h = bar_h * len(series) + gap
    height = max(len(rows), 1) * group_h + 24
    peak = max((v for _, values in rows for v in values if v is not None), default=0) or 1
    plot_w = width - label_w - 80
    items = []
    for r, (label, values) in enumerate(rows):
        y0 = r * group_h
        items.append(format_html('<text x="0" y="{}" font-size="11">{}</text>', y0 + bar_h + 2, label[:28]))
        for s, value in enumerate(values):
            if value is None:
                continue
            w = plot_w * value / peak
            y = y0 + s * bar_h
            items.append(
                format_html(
                    '<rect class="jq-bar" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} {}: {} {}</title></rect>'
                    '<text x="{}" y="{}" font-size="9">{} {}</text>',
                    label_w,
                    y,
                    f"{max(w, 1):.1f}",
                    bar_h - 1,
                    PALETTE[s % len(PALETTE)],
                    label,
                    series[s],
                    f"{value:g}",
                    unit,
                    f"{label_w + max(w, 1) + 4:.1f}",
                    y + bar_h - 2,
                    f"{value:g}",
                    unit,
                )
            )
    legend = format_html_join(
        "",
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="10">{}</text>',
        (
            (label_w + i * 70, height - 12, PALETTE[i % len(PALETTE)], label_w + i * 70 + 14, height - 3, name)
            for i, name in enumerate(series)
        ),
    )
    return format_html(
        '<svg class="jq-chart jq-bars" role="img" viewBox="0 0 {} {}" width="{}" height="{}">{}{}</svg>',
        width,
        height,
        width,
        height,
        SafeString("".join(items)),
        legend,
    )


def sparkline(values: Sequence[int], label: str, width: int = 120, height: int = 24) -> SafeString:
    """A row of small bars, one per interval of the window (the failures view's groups).

    Built as text like throughput(): the bars are numbers formatted here and the label is escaped
    once. format_html per bar cost about 1 ms a sparkline, a third of the failures view over a
    week with fifty groups."""
    peak = max(values, default=0) or 1
    bar_w = width / max(len(values), 1)
    width_text = f"{max(bar_w - 1, 1):.1f}"
    bars = []
    for i, v in enumerate(values):
        h = max(height * v / peak, 1)
        bars.append(
            f'<rect x="{i * bar_w:.1f}" y="{height - h:.1f}" width="{width_text}" height="{h:.1f}" '
            f'fill="{FAILED if v else "#d0d0d0"}"/>'
        )
    text = escape(label)
    return SafeString(
        f'<svg class="jq-spark" role="img" aria-label="{text}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}"><title>{text}</title>{"".join(bars)}</svg>'
    )


def lines(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    unit: str,
    width: int = 720,
    height: int = 160,
) -> SafeString:
    """One polyline per series over shared x positions (the per-type page's percentiles and depth)."""
    left, bottom, top = 50, 20, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((v for _, values in series for v in values if v is not None), default=0) or 1
    step = plot_w / max(len(labels) - 1, 1)
    paths = []
    for s, (name, values) in enumerate(series):
        coords = " ".join(
            f"{left + i * step:.1f},{top + plot_h - plot_h * v / peak:.1f}"
            for i, v in enumerate(values)
            if v is not None
        )
        paths.append(
            format_html(
                '<polyline class="jq-line" points="{}" fill="none" stroke="{}" stroke-width="2"><title>{}</title></polyline>'
                '<text x="{}" y="{}" font-size="10" fill="{}">{}</text>',
                coords,
                PALETTE[s % len(PALETTE)],
                name,
                left + 60 * s,
                height - 4,
                PALETTE[s % len(PALETTE)],
                name,
            )
        )
    return format_html(
        '<svg class="jq-chart jq-lines" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}">'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/><text x="2" y="{}" font-size="10">{} {}</text>{}</svg>',
        ", ".join(name for name, _ in series),
        width,
        height,
        width,
        height,
        left,
        top + plot_h,
        width - 10,
        top + plot_h,
        top + 8,
        f"{peak:g}",
        unit,
        SafeString("".join(paths)),
    )
