"""Summaries (median, min, max of the repetitions), same-run ratios, targets, and the printed table."""

from __future__ import annotations

import statistics
from typing import Any

SIDES = ("rawq_defaults", "rawq_tuned", "ours")


def stat(values: list[float | None]) -> dict[str, float] | None:
    kept = [v for v in values if v is not None]
    if not kept:
        return None
    return {"median": statistics.median(kept), "min": min(kept), "max": max(kept), "n": len(kept)}


def cell(summary: dict[str, float] | None, digits: int = 0) -> str:
    if summary is None:
        return "-"
    fmt = f"{{:,.{digits}f}}"
    if summary["n"] == 1:
        return fmt.format(summary["median"])
    return f"{fmt.format(summary['median'])} ({fmt.format(summary['min'])}-{fmt.format(summary['max'])})"


def _field(reps: list[dict[str, Any]], key: str) -> list[float | None]:
    return [r.get(key) for r in reps if r.get("ok")]


def _ratios(ours: list[dict[str, Any]], theirs: list[dict[str, Any]], key: str) -> list[float | None]:
    """B/A per repetition: each pair was measured in the same round, minutes apart."""
    out: list[float | None] = []
    for b, a in zip(ours, theirs, strict=False):
        if b.get("ok") and a.get("ok") and b.get(key) and a.get(key):
            out.append(b[key] / a[key])
    return out


# (label in the table, key in each run's result, digits shown)
FIGURES: list[tuple[str, str, int]] = [
    ("single enqueue, jobs/s", "single_enqueue_per_s", 0),
    ("bulk enqueue (enqueue_many, 500/batch), jobs/s", "bulk_enqueue_per_s", 0),
    ("drain, jobs/s (first start to last finish)", "drain_per_s", 0),
    ("drain, jobs/s (first finish to last finish)", "drain_finish_to_finish_per_s", 0),
    ("latency enqueue-to-start p50, ms", "start_p50_ms", 1),
    ("latency enqueue-to-start p95, ms", "start_p95_ms", 1),
    ("latency enqueue-to-finish p50, ms", "finish_p50_ms", 1),
    ("latency enqueue-to-finish p95, ms", "finish_p95_ms", 1),
]


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Per database: each figure per side, the B/A-tuned ratios, and the targets met or missed."""
    out: dict[str, Any] = {}
    for vendor, runs in results.get("runs", {}).items():
        figures: dict[str, Any] = {}
        for _, key, _ in FIGURES:
            figures[key] = {side: stat(_field(runs.get(side, []), key)) for side in SIDES}
        ratios = {
            key: stat(_ratios(runs.get("ours", []), runs.get("rawq_tuned", []), key))
            for key in ("single_enqueue_per_s", "drain_per_s", "drain_finish_to_finish_per_s")
        }
        out[vendor] = {"figures": figures, "ratios": ratios, **summarize_concurrency(vendor, results)}
        out[vendor]["targets"] = targets(vendor, figures, ratios, results) + concurrency_targets(out[vendor], results)
    return out


def summarize_concurrency(vendor: str, results: dict[str, Any]) -> dict[str, Any]:
    """The I/O, priority and memory cases of one database (empty summaries when not run)."""
    io = results.get("io", {}).get(vendor, {})
    priority = results.get("priority", {}).get(vendor, [])
    memory = results.get("memory", {}).get(vendor, [])
    return {
        "io": {side: stat(_field(reps, "drain_per_s")) for side, reps in io.items()},
        "io_ratio_async_to_rawq": stat(_ratios(io.get("ours_async", []), io.get("rawq_tuned_sync", []), "drain_per_s")),
        "priority": {key: stat(_field(priority, key)) for key in PRIORITY_KEYS},
        "memory": {
            "idle_rss_mib": stat([r["idle"]["rss_mib"] for r in memory if r.get("ok")]),
            "in_flight_rss_mib": stat([r["in_flight"]["rss_mib"] for r in memory if r.get("ok")]),
            "rss_ratio": stat(_field(memory, "rss_ratio")),
            "pss_ratio": stat(_field(memory, "pss_ratio")),
            "in_flight": max((r.get("in_flight_requests", 0) for r in memory if r.get("ok")), default=None),
        },
    }


PRIORITY_KEYS = ("critical_start_p50_ms", "critical_start_p95_ms", "queued_behind_min")


def concurrency_targets(summary: dict[str, Any], results: dict[str, Any]) -> list[dict]:
    def median(value: dict[str, float] | None) -> float | None:
        return None if value is None else value["median"]

    io_async = median(summary["io"].get("ours_async"))
    dramatiq = median(
        stat([r.get("drain_per_s") for r in results.get("io_peers", {}).get("dramatiq", []) if r.get("ok")])
    )
    in_flight = summary["memory"]["in_flight"]
    rows = [
        ("I/O drain B async type, jobs/s", io_async, ">= 150", lambda v: v >= 150, "needs the I/O case"),
        (
            "I/O drain B async / Dramatiq 2 x 8",
            io_async / dramatiq if io_async and dramatiq else None,
            ">= 1.0",
            lambda v: v >= 1.0,
            "needs --peers",
        ),
        (
            "CRITICAL during a drain, enqueue-to-start p95, ms",
            median(summary["priority"]["critical_start_p95_ms"]),
            "<= 100",
            lambda v: v <= 100,
            "needs the priority case",
        ),
        (
            f"cluster RSS, {in_flight or 'N'} async in flight / idle",
            median(summary["memory"]["rss_ratio"]),
            "<= 1.5",
            lambda v: v <= 1.5,
            "needs the memory case",
        ),
    ]
    return [
        {
            "target": name,
            "value": value,
            "wanted": wanted,
            "met": None if value is None else bool(check(value)),
            "needs": needs,
        }
        for name, value, wanted, check, needs in rows
    ]


def targets(vendor: str, figures: dict[str, Any], ratios: dict[str, Any], results: dict[str, Any]) -> list[dict]:
    pg = vendor == "postgres"

    def median(summary: dict[str, float] | None) -> float | None:
        return None if summary is None else summary["median"]

    growth = results.get("growth", {}).get(vendor, {})
    growth_ratio = median(growth.get("ratio_ready_1m"))
    rows = [
        ("drain B/A tuned", median(ratios["drain_per_s"]), ">= 2.0", lambda v: v >= 2.0),
        ("single enqueue B/A tuned", median(ratios["single_enqueue_per_s"]), ">= 1.0", lambda v: v >= 1.0),
        (
            "bulk enqueue B, jobs/s",
            median(figures["bulk_enqueue_per_s"]["ours"]),
            ">= 10,000" if pg else ">= 20,000",
            lambda v: v >= (10_000 if pg else 20_000),
        ),
        (
            "enqueue-to-start p50 B, ms",
            median(figures["start_p50_ms"]["ours"]),
            "<= 20" if pg else "<= 100",
            lambda v: v <= (20 if pg else 100),
        ),
        ("growth: drain 1M ready / 10k ready", growth_ratio, ">= 0.8", lambda v: v >= 0.8),
    ]
    return [
        {"target": name, "value": value, "wanted": wanted, "met": None if value is None else bool(check(value))}
        for name, value, wanted, check in rows
    ]


def summarize_growth(vendor_growth: dict[str, Any]) -> dict[str, Any]:
    """Median drain and claim time per growth case, and the ratio against the 10k-ready case."""
    out: dict[str, Any] = {}
    for case, data in vendor_growth.items():
        reps = list(data.get("reps", []))
        out[case] = {
            "drain_per_s": stat([r.get("drain_per_s") for r in reps]),
            "claim_p50_ms": stat([r.get("claim_p50_ms") for r in reps]),
            "claim_p95_ms": stat([r.get("claim_p95_ms") for r in reps]),
            "build_seconds": data.get("build_seconds"),
        }
    base = out.get("ready_10k", {}).get("drain_per_s")
    for case, name in (("ready_1m", "ratio_ready_1m"), ("history_1m", "ratio_history_1m")):
        value = out.get(case, {}).get("drain_per_s")
        if base and value:
            out[name] = {
                "median": value["median"] / base["median"],
                "min": value["min"] / base["max"],
                "max": value["max"] / base["min"],
                "n": 1,
            }
    return out


def table(results: dict[str, Any]) -> str:
    """The results as Markdown tables, one per database: median (min-max) of the repetitions."""
    lines: list[str] = []
    vendors = [
        *results.get("summary", {}),
        *(v for v in results.get("growth", {}) if v not in results.get("summary", {})),
    ]
    for vendor in vendors:
        summary = results.get("summary", {}).get(vendor, {"figures": {}, "ratios": {}, "targets": []})
        ceiling = stat(results.get("ceiling", {}).get(vendor, []))
        lines += [
            f"### {vendor}",
            "",
            "| figure | A: django-q2 defaults | A: django-q2 tuned | B: jobqueue | B/A tuned |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for label, key, digits in FIGURES if summary["figures"] else []:
            by_side = summary["figures"][key]
            if all(v is None for v in by_side.values()):
                continue
            ratio = summary["ratios"].get(key)
            lines.append(
                f"| {label} | {cell(by_side['rawq_defaults'], digits)} | {cell(by_side['rawq_tuned'], digits)} "
                f"| {cell(by_side['ours'], digits)} | {cell(ratio, 2) if ratio else ''} |"
            )
        growth = results.get("growth", {}).get(vendor, {})
        for case, label in (
            ("ready_10k", "10k ready"),
            ("ready_1m", "1M ready"),
            ("history_1m", "1M finished + 10k ready"),
        ):
            if case in growth:
                g = growth[case]
                lines.append(
                    f"| growth, {label}: drain jobs/s; claim p50 ms | | | {cell(g['drain_per_s'])}; "
                    f"{cell(g['claim_p50_ms'], 2)} | |"
                )
        for name, label in (("ratio_ready_1m", "1M ready / 10k ready"), ("ratio_history_1m", "1M history / 10k")):
            if name in growth:
                lines.append(f"| growth ratio {label} | | | | {cell(growth[name], 2)} |")
        lines += concurrency_rows(summary)
        if ceiling:
            lines += ["", f"Database ceiling, single-row INSERT commits/s from one connection: {cell(ceiling)}."]
        if not summary["targets"]:
            lines.append("")
            continue
        lines += ["", "| target | value | wanted | met |", "| --- | ---: | --- | --- |"]
        for t in summary["targets"]:
            value = "-" if t["value"] is None else f"{t['value']:,.2f}"
            needs = t.get("needs", "needs --growth")
            met = f"not measured ({needs})" if t["met"] is None else ("yes" if t["met"] else "**no**")
            lines.append(f"| {t['target']} | {value} | {t['wanted']} | {met} |")
        lines.append("")
    peers, io_peers = results.get("peers", {}), results.get("io_peers", {})
    if peers or io_peers:
        lines += ["### peers (Redis, no history kept)", "", "| peer | drain jobs/s | I/O drain jobs/s |"]
        lines.append("| --- | ---: | ---: |")
        for name in dict.fromkeys([*peers, *io_peers]):
            noop = cell(stat([r.get("drain_per_s") for r in peers.get(name, []) if r.get("ok")]))
            io = cell(stat([r.get("drain_per_s") for r in io_peers.get(name, []) if r.get("ok")]))
            lines.append(f"| {name} | {noop} | {io} |")
        lines.append("")
    return "\n".join(lines)


def concurrency_rows(summary: dict[str, Any]) -> list[str]:
    """Table rows of the I/O, priority and memory cases (none when they were not run)."""
    io, priority, memory = summary.get("io", {}), summary.get("priority", {}), summary.get("memory", {})
    rows = []
    if io:
        ratio = summary.get("io_ratio_async_to_rawq")
        rows.append(
            f"| I/O drain, jobs/s: B async type; A sync function | | {cell(io.get('rawq_tuned_sync'))} "
            f"| {cell(io.get('ours_async'))} | {cell(ratio, 2) if ratio else ''} |"
        )
        rows.append(f"| I/O drain, jobs/s: B sync type | | | {cell(io.get('ours_sync'))} | |")
    if priority and priority.get("critical_start_p95_ms"):
        rows.append(
            f"| CRITICAL during a drain, enqueue-to-start p50; p95, ms | | "
            f"| {cell(priority['critical_start_p50_ms'], 1)}; {cell(priority['critical_start_p95_ms'], 1)} | |"
        )
    if memory and memory.get("rss_ratio"):
        rows.append(
            f"| cluster RSS, MiB: idle; {memory['in_flight']} async in flight | | "
            f"| {cell(memory['idle_rss_mib'])}; {cell(memory['in_flight_rss_mib'])} | {cell(memory['rss_ratio'], 2)} |"
        )
    return rows
