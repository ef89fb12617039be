"""The project's URL configuration: the admin, the job queue's pages and its REST API."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("jobqueue.api.urls")),
]
