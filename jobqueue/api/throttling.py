"""The per-user rate of enqueue calls (JOBQUEUE `API_ENQUEUE_RATE`); excess calls get 429."""

from __future__ import annotations

from rest_framework.throttling import UserRateThrottle

from jobqueue.config.settings import jobqueue_settings


class EnqueueRateThrottle(UserRateThrottle):
    scope = "jobqueue_enqueue"

    def __init__(self) -> None:
        # Read per request (not at import) so that a settings change applies at once.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self) -> str | None:
        rate = jobqueue_settings.API_ENQUEUE_RATE
        return str(rate) if rate else None
