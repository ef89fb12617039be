"""The no-op job type the benchmark drains through our broker and runner."""

from jobqueue import job


@job(max_attempts=1)
def bench_noop() -> None:
    """Do nothing: what is measured is the queue's own cost per job."""
