"""The no-op function raw django-q2 (side A) runs through `async_task`."""


def noop() -> None:
    """Do nothing: what is measured is django-q2's own cost per task."""
