"""The JSON 404 for any path under /api/ that names no endpoint."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse


def not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": f"no API endpoint at {request.path}; see /api/docs/"}, status=404)
