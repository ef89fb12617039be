"""The django-q2 adapter: the only package that imports django_q (broker, entry point, qcluster)."""
