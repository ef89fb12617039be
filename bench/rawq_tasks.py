"""The functions raw django-q2 (side A) runs through `async_task`."""

from bench.benchjobs import http


def noop() -> None:
    """Do nothing: what is measured is django-q2's own cost per task."""


def io_sync(url: str) -> None:
    """Wait for one delayed response of the harness's delay server (the I/O-bound case)."""
    http.get_sync(url)
