"""A Content-Security-Policy on admin pages: scripts only from this site, nothing from elsewhere,
so a payload or error message that slipped past escaping still could not run."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse

# Django's admin sets a few inline style attributes; scripts are files only. Charts are inline SVG.
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        # No page of ours is framed, by anyone: the same rule as X-Frame-Options DENY, which
        # older browsers read (two rules that disagreed left the answer to the browser).
        "frame-ancestors 'none'",
    ]
)


class AdminContentSecurityPolicyMiddleware:
    """Add the policy to every response under the admin's URL prefix (unless a view set its own)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._prefix: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(self.prefix()) and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = POLICY
        return response

    def prefix(self) -> str:
        if self._prefix is None:
            try:
                self._prefix = reverse("admin:index")
            except NoReverseMatch:
                self._prefix = "/admin/"
        return self._prefix
