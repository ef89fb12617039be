"""Entry point discovered by jobqueue: importing the domain modules registers their job types."""

from tasks import announcements, chain, confirmation, dao, embeddings, maintenance, proposals, social, webhooks  # noqa: F401
