"""One error shape for every API failure: `{"detail": str, "errors": {path: [messages]}}`, and the
mapping of the services' and the database's exceptions onto HTTP statuses (400, 404, 409, 503)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from jobqueue.exceptions import ActionRefused, InvalidStateError, PayloadValidationError, UnknownJobTypeError
from jobqueue.services import BulkEnqueueError

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "the operation does not apply in the object's current state"
    default_code = "conflict"


class Backlogged(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "the job type's backlog is full; retry later"
    default_code = "backlogged"

    def __init__(self, detail: str, wait: int) -> None:
        super().__init__(detail)
        self.wait = wait  # DRF's handler turns this into Retry-After


# How long a client should wait before retrying when the database is unavailable (seconds).
DATABASE_RETRY_AFTER = 5


class DatabaseUnavailable(exceptions.APIException):
    """The database is unreachable, restarting or out of connections: a transient 503."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "the database is unavailable (unreachable or out of connections); retry later"
    default_code = "database_unavailable"

    def __init__(self, wait: int = DATABASE_RETRY_AFTER) -> None:
        super().__init__()
        self.wait = wait


class FieldErrors(exceptions.APIException):
    """400 with errors by field path (or by item index for bulk calls)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, detail: str, errors: dict[str, Any]) -> None:
        super().__init__(detail)
        self.errors = errors


class PayloadConflict(FieldErrors):
    """409 with errors by field path: a body the document accepts, whose payload does not fit
    the job type of the object it is sent to (the re-queue of a dead letter)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class EnqueueForbidden(FieldErrors):
    """403 naming, by field path, each job type the user may not enqueue (and why)."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "permission_denied"


def flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested serializer errors as {dotted.path: [messages]} ("body" for the whole body)."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = "" if key in ("non_field_errors", "detail") else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            for sub, messages in flatten(value, path).items():
                flat.setdefault(sub, []).extend(messages)
    elif isinstance(errors, list) and errors and all(isinstance(e, str) for e in errors):
        flat[prefix or "body"] = [str(e) for e in errors]
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            if value:
                flat.update(flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "body"] = [str(errors)]
    return flat


def translate(exc: Exception) -> Exception:
    """The services' exceptions as API exceptions."""
    if isinstance(exc, PayloadValidationError):
        return FieldErrors(f"invalid request for job type {exc.job_type!r}", exc.errors)
    if isinstance(exc, BulkEnqueueError):
        errors = {str(index): item for index, item in sorted(exc.errors.items())}
        return FieldErrors(f"{len(exc.errors)} invalid item(s); nothing was enqueued", errors)
    if isinstance(exc, UnknownJobTypeError):
        return FieldErrors(str(exc), {"type": [str(exc)]})
    if isinstance(exc, InvalidStateError):
        return Conflict(str(exc))
    if isinstance(exc, ActionRefused):
        return exceptions.PermissionDenied(str(exc))
    if isinstance(exc, DjangoValidationError):
        by_field: dict[str, list[str]] = (
            {key: list(value) for key, value in exc.message_dict.items()}
            if hasattr(exc, "error_dict")
            else {"body": list(exc.messages)}
        )
        return FieldErrors("invalid values", by_field)
    if isinstance(exc, OperationalError | InterfaceError):
        # Connection refused or dropped, "too many clients", the pool's timeout: the server's
        # details (host names, addresses) stay in the log, not in the answer.
        logger.warning("API request failed on the database: %s", exc)
        return DatabaseUnavailable()
    return exc


def handle_exception(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler of the API views (set per view, so other DRF apps are unaffected)."""
    exc = translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, FieldErrors):
        response.data = {"detail": str(exc.detail), "errors": exc.errors}
    elif isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "invalid request", "errors": flatten(exc.detail)}
    elif isinstance(exc, Http404):
        response.data = {"detail": "not found"}
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        response.data = {"detail": str(detail)}
    return response
