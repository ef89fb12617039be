"""App configuration of this deployment's job types."""

import logging

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Deployment job types"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # httpx logs every request's full URL at INFO, and a Discord webhook URL is a
        # credential: the clients report their own errors without URLs instead.
        for name in ("httpx", "httpcore"):
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET or logger.level < logging.WARNING:
                logger.setLevel(logging.WARNING)
