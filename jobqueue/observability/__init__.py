"""Read models of the operator's console: failure groups, job search, per-type history and the
clusters' current work. Queries returning dataclasses, read by the admin and the API."""
