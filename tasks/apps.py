"""App configuration of this deployment's job types."""

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Deployment job types"
    default_auto_field = "django.db.models.BigAutoField"
