"""The deployment's own API routes, mounted under /api/ by config/urls.py."""

from __future__ import annotations

from django.urls import re_path

from tasks.api import ChainhookView

urlpatterns = [
    # Any name reaches the view, which answers an unknown one with the API's JSON 404.
    re_path(r"^chainhooks/(?P<name>[^/]+)/$", ChainhookView.as_view(), name="chainhook"),
]
