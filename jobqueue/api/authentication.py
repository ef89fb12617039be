"""Who is calling: an API token (`Authorization: Bearer jq_...`) or a session login with CSRF."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from jobqueue.services.tokens import verify


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`; tokens are created in the admin or with
    `manage.py jobqueue token create`."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # not ours: let the session authenticator try
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("malformed Authorization header; use 'Bearer <token>'")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("invalid token") from None
        token = verify(secret)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("invalid, expired or revoked token")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Having a challenge is what makes DRF answer 401 rather than 403 to anonymous calls.
        return f'{self.keyword} realm="api"'


# A logged-in admin session is the other way in; DRF's class enforces CSRF on unsafe methods.
SessionAuthentication = authentication.SessionAuthentication
