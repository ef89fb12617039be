"""The project's URL configuration: the admin, and the job queue's pages."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
