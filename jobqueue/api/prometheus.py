"""The Prometheus text exposition of the job queue's metrics, per job type."""

from __future__ import annotations

from collections import defaultdict

from jobqueue import metrics
from jobqueue.conf import jobqueue_settings


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition() -> str:
    """Gauges of the current state, and the figures of the last PROMETHEUS_WINDOW.

    Counts are window gauges (`..._in_window`), not ever-growing counters: the history is
    pruned by retention, so totals since the beginning cannot be read back from it.
    Durations are a summary (quantiles, count and sum) over the same window.
    """
    window = str(jobqueue_settings.PROMETHEUS_WINDOW)
    snap = metrics.snapshot(window)
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    ready: dict[str, int] = defaultdict(int)
    for depth in snap.depth:
        ready[depth.job_type] += depth.ready
    family("jobqueue_ready_jobs", "gauge", "Jobs ready to run now, by type.")
    lines += [f'jobqueue_ready_jobs{{type="{_label(t)}"}} {n}' for t, n in sorted(ready.items())]
    family("jobqueue_oldest_ready_seconds", "gauge", "Age of the oldest ready job.")
    lines.append(f"jobqueue_oldest_ready_seconds {snap.oldest_ready_age or 0:.3f}")
    family("jobqueue_running_jobs", "gauge", "Jobs running now, all types.")
    lines.append(f"jobqueue_running_jobs {snap.running}")
    family("jobqueue_dead_letters_unresolved", "gauge", "Dead letters waiting for an operator.")
    lines.append(f"jobqueue_dead_letters_unresolved {snap.dead_letters_unresolved}")
    family("jobqueue_clusters", "gauge", "Clusters by heartbeat state (live, lost, stopped).")
    states: dict[str, int] = defaultdict(int)
    for cluster in snap.clusters:
        states[cluster.state] += 1
    lines += [f'jobqueue_clusters{{state="{s}"}} {states.get(s, 0)}' for s in ("live", "lost", "stopped")]

    counters = ("enqueued", "started", "succeeded", "failed", "retried", "dead_lettered", "skipped", "cancelled")
    for counter in counters:
        name = f"jobqueue_{counter}_in_window"
        family(name, "gauge", f"Jobs {counter.replace('_', ' ')} in the last {window}, by type.")
        for item in snap.types:
            lines.append(f'{name}{{type="{_label(item.name)}",window="{window}"}} {getattr(item.counts, counter)}')

    family("jobqueue_attempt_duration_seconds", "summary", f"Attempt durations in the last {window}, by type.")
    for item in snap.types:
        d = item.duration
        label = f'type="{_label(item.name)}"'
        for quantile, value in (("0.5", d.p50), ("0.95", d.p95), ("0.99", d.p99)):
            if value is not None:
                lines.append(f'jobqueue_attempt_duration_seconds{{{label},quantile="{quantile}"}} {value / 1000:.6f}')
        lines.append(f"jobqueue_attempt_duration_seconds_count{{{label}}} {d.count}")
        lines.append(f"jobqueue_attempt_duration_seconds_sum{{{label}}} {(d.mean or 0) * d.count / 1000:.6f}")
    return "\n".join(lines) + "\n"
