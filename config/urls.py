"""The project's URL configuration: the admin, the job queue's pages and its REST API."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # This deployment's own API routes (chainhook deliveries), before the job queue's, whose
    # last route answers every other path under /api/ with a JSON 404.
    path("api/", include("tasks.urls")),
    path("api/", include("jobqueue.api.urls")),
]
