"""The REST API of the job queue (Django REST framework), mounted by the project under /api/."""
