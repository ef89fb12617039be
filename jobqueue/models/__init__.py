"""The tables: JobType (configuration records), Job (queue and history), Attempt, DeadLetter,
the cluster's bookkeeping (core), the users' job-rate budgets (jobrate), and the metrics'
rollup (metrics)."""

from jobqueue.models.core import (
    ACTIVE,
    FINISHED,
    WAITING,
    ApiToken,
    Attempt,
    ClusterHeartbeat,
    DeadLetter,
    DeadLetterQuerySet,
    DeadReason,
    Job,
    JobQuerySet,
    JobType,
    JobTypeQuerySet,
    Outcome,
    RateLimitStart,
    Resolution,
    ScheduleState,
    Status,
    UniqueLock,
    new_id,
)
from jobqueue.models.jobrate import JobRateCount
from jobqueue.models.metrics import (
    HISTOGRAM_BINS,
    MetricBucket,
    MetricHour,
    MetricMinute,
    MetricRollup,
    MetricTotal,
)
from jobqueue.models.partitions import PartitionTurn
from jobqueue.models.workflows import Dependency

__all__ = [
    "ACTIVE",
    "FINISHED",
    "HISTOGRAM_BINS",
    "WAITING",
    "ApiToken",
    "Attempt",
    "ClusterHeartbeat",
    "DeadLetter",
    "DeadLetterQuerySet",
    "DeadReason",
    "Dependency",
    "Job",
    "JobQuerySet",
    "JobRateCount",
    "JobType",
    "JobTypeQuerySet",
    "MetricBucket",
    "MetricHour",
    "MetricMinute",
    "MetricRollup",
    "MetricTotal",
    "Outcome",
    "PartitionTurn",
    "RateLimitStart",
    "Resolution",
    "ScheduleState",
    "Status",
    "UniqueLock",
    "new_id",
]
