"""Lists that refresh their rows in place: the console's script asks for `?_fragment=1` (the
same filters and search) and swaps the rows; this mixin answers with the rows alone."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from jobqueue.config.settings import jobqueue_settings

FRAGMENT = "_fragment"


class LiveListMixin(admin.ModelAdmin):
    """Adds the console's stylesheet and script, and the rows-only answer of `?_fragment=1`."""

    class Media:
        css = {"all": ["jobqueue/console.css"]}
        js = ["jobqueue/console.js"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        fragment = FRAGMENT in request.GET
        if fragment:
            # Not a filter of the list: the changelist would refuse an unknown parameter.
            query = request.GET.copy()
            query.pop(FRAGMENT)
            request.GET = query  # type: ignore[assignment]
        context = {**(extra_context or {}), "list_refresh": jobqueue_settings.DASHBOARD_REFRESH}
        response = super().changelist_view(request, context)
        if fragment and isinstance(response, TemplateResponse):
            response.template_name = "jobqueue/admin/list_fragment.html"
        return response
