"""A test app that uses only Django's task API (`@task`), run by jobqueue.tasks_backend."""
