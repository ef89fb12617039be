"""The Prometheus text exposition of the job queue's metrics: gauges of the current state, and
counters and histograms per job type read from the rollup's totals (jobqueue.observability.totals)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.utils import timezone

from jobqueue.config.settings import jobqueue_settings
from jobqueue.models import HISTOGRAM_BINS, DeadLetter, Job, MetricTotal
from jobqueue.observability import metrics, rollup

# Attempt outcomes (a column of MetricTotal each), and the final states of jobs with their column.
ATTEMPT_OUTCOMES = ("succeeded", "failed", "timed_out", "crashed", "cancelled", "skipped")
JOB_OUTCOMES = (
    ("succeeded", "succeeded"),
    ("skipped", "skipped"),
    ("cancelled", "jobs_cancelled"),
    ("dead", "dead_lettered"),
)
# Bin i holds values below 2 ** (i / 2) ms (jobqueue.observability.rollup.bin_of); the last bin is open.
BUCKET_BOUNDS = tuple(2 ** (i / 2) / 1000 for i in range(HISTOGRAM_BINS - 1))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Lines(list[str]):
    def family(self, name: str, kind: str, help_text: str) -> None:
        self.append(f"# HELP {name} {help_text}")
        self.append(f"# TYPE {name} {kind}")

    def histogram(self, name: str, labels: str, bins: Sequence[int], total_ms: int) -> None:
        cumulative = 0
        for bound, count in zip(BUCKET_BOUNDS, bins, strict=False):
            cumulative += count
            self.append(f'{name}_bucket{{{labels},le="{bound:.6g}"}} {cumulative}')
        cumulative += bins[-1]
        self.append(f'{name}_bucket{{{labels},le="+Inf"}} {cumulative}')
        self.append(f"{name}_count{{{labels}}} {cumulative}")
        self.append(f"{name}_sum{{{labels}}} {total_ms / 1000:.3f}")


def _gauges(lines: _Lines) -> None:
    now = timezone.now()
    depth, oldest = metrics.queue_depth(now)
    ready: dict[str, int] = defaultdict(int)
    for row in depth:
        ready[row.job_type] += row.ready
    lines.family("jobqueue_ready_jobs", "gauge", "Jobs ready to run now, by type.")
    lines += [f'jobqueue_ready_jobs{{type="{_label(t)}"}} {n}' for t, n in sorted(ready.items())]
    lines.family("jobqueue_oldest_ready_seconds", "gauge", "Age of the oldest ready job.")
    lines.append(f"jobqueue_oldest_ready_seconds {oldest or 0:.3f}")
    lines.family("jobqueue_running_jobs", "gauge", "Jobs running now, all types.")
    lines.append(f"jobqueue_running_jobs {Job.objects.running().count()}")
    lines.family("jobqueue_dead_letters_unresolved", "gauge", "Dead letters waiting for an operator.")
    lines.append(f"jobqueue_dead_letters_unresolved {DeadLetter.objects.unresolved().count()}")
    lines.family("jobqueue_clusters", "gauge", "Clusters by heartbeat state (live, lost, stopped).")
    states: dict[str, int] = defaultdict(int)
    for cluster in metrics.clusters(now):
        states[cluster.state] += 1
    lines += [f'jobqueue_clusters{{state="{s}"}} {states.get(s, 0)}' for s in ("live", "lost", "stopped")]


def exposition() -> str:
    """Gauges of the current state; counters and histograms of everything rolled up so far.

    The counters are totals kept by the rollup (MetricTotal), not counts of the history: pruning
    the history never lowers them. They lag the clock by the rollup's lag (a minute or two); the
    rollup's watermark is exported as `jobqueue_metrics_rolled_until_timestamp_seconds`.
    """
    rollup.roll_up(max_minutes=jobqueue_settings.METRICS_ROLLUP_READ_MINUTES, wait=False)
    lines = _Lines()
    _gauges(lines)
    until = rollup.rolled_until()
    lines.family(
        "jobqueue_metrics_rolled_until_timestamp_seconds", "gauge", "The counters include everything before this time."
    )
    lines.append(f"jobqueue_metrics_rolled_until_timestamp_seconds {until.timestamp() if until else 0:.0f}")

    rows = [(_label(total.job_type.name), total) for total in MetricTotal.objects.select_related("job_type")]
    rows.sort(key=lambda row: row[0])
    lines.family("jobqueue_jobs_enqueued_total", "counter", "Jobs enqueued, by type.")
    lines += [f'jobqueue_jobs_enqueued_total{{type="{name}"}} {total.enqueued}' for name, total in rows]
    lines.family("jobqueue_jobs_finished_total", "counter", "Jobs that reached a final state, by type and outcome.")
    for name, total in rows:
        lines += [
            f'jobqueue_jobs_finished_total{{type="{name}",outcome="{outcome}"}} {getattr(total, column)}'
            for outcome, column in JOB_OUTCOMES
        ]
    lines.family("jobqueue_attempts_total", "counter", "Attempts finished, by type and outcome.")
    for name, total in rows:
        lines += [
            f'jobqueue_attempts_total{{type="{name}",outcome="{outcome}"}} {getattr(total, outcome)}'
            for outcome in ATTEMPT_OUTCOMES
        ]
    lines.family("jobqueue_attempts_retried_total", "counter", "Attempts after the first of their job, by type.")
    lines += [f'jobqueue_attempts_retried_total{{type="{name}"}} {total.retried}' for name, total in rows]

    lines.family("jobqueue_attempt_duration_seconds", "histogram", "Durations of finished attempts, by type.")
    for name, total in rows:
        bins = [getattr(total, f"d{i:02}") for i in range(HISTOGRAM_BINS)]
        lines.histogram("jobqueue_attempt_duration_seconds", f'type="{name}"', bins, total.duration_total_ms)
    lines.family("jobqueue_job_wait_seconds", "histogram", "Time from ready to started of jobs' latest attempts.")
    for name, total in rows:
        bins = [getattr(total, f"w{i:02}") for i in range(HISTOGRAM_BINS)]
        lines.histogram("jobqueue_job_wait_seconds", f'type="{name}"', bins, total.wait_total_ms)
    return "\n".join(lines) + "\n"
