"""Entry point discovered by jobqueue: importing the domain modules registers their job types."""

from tasks import maintenance, webhooks  # noqa: F401
