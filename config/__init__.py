"""The Django project that runs the job queue and this deployment's job types."""
