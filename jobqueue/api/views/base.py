"""What every API view shares: authentication, per-action permissions, strict JSON, the error
shape, enqueue throttling and backpressure, and the refused-action audit record."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from rest_framework import viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from jobqueue.api.authentication import ApiTokenAuthentication, SessionAuthentication
from jobqueue.api.errors import Backlogged, handle_exception
from jobqueue.api.parsers import StrictJSONParser
from jobqueue.api.permissions import ActionPermission
from jobqueue.api.schema import OwnDocsAutoSchema
from jobqueue.api.throttling import spend
from jobqueue.config.settings import jobqueue_settings
from jobqueue.exceptions import ActionRefused, InvalidStateError
from jobqueue.models import Job, JobType
from jobqueue.services.audit import record


class ApiViewSet(viewsets.GenericViewSet):
    """Base of the API's viewsets; policies are set here, not in REST_FRAMEWORK, so that the
    project's other DRF views keep their own."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [ActionPermission]
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]
    # No OPTIONS: its answer (DRF's metadata) is not part of the API's contract, so 405.
    metadata_class = None
    schema = OwnDocsAutoSchema()
    required_permissions: dict[str, list[str]] = {}

    def get_exception_handler(self) -> Callable[..., Any]:
        return handle_exception


def admit(request: Request, type_names: list[str]) -> None:
    """Every job-creating action's gate: the backlog bound per type, then the user's job rate
    (a request refused for either creates nothing and spends nothing)."""
    check_backlog(type_names)
    spend(request, len(type_names))


def check_backlog(type_names: list[str]) -> None:
    """503 with Retry-After when enqueueing would push a type's backlog over the bound. The
    backlog is every job waiting to run, delayed ones (a future `run_after`, a retry) included."""
    bound = jobqueue_settings.API_MAX_READY_PER_TYPE
    for name, incoming in Counter(type_names).items():
        type_id = JobType.objects.filter(name=name).values_list("pk", flat=True).first()
        if type_id is None:
            continue  # unknown types are refused with 400 by the services
        # Counting at most bound+1 rows keeps this cheap however long the backlog is.
        waiting = Job.objects.waiting().filter(job_type_id=type_id)[: bound + 1].count()
        if waiting + incoming > bound:
            raise Backlogged(
                f"job type {name!r} has {waiting} jobs waiting to run, delayed ones included (limit {bound}); "
                "retry later",
                wait=jobqueue_settings.API_BACKLOG_RETRY_AFTER,
            )


def audited(request: Request, obj: Any, action: str, reason: str, call: Callable[[], Any]) -> Any:
    """Run a service call; when the services refuse it, record the refusal before answering (409 for
    the object's state, 403 for the job type's permission)."""
    try:
        return call()
    except (InvalidStateError, ActionRefused) as exc:
        record(request.user, obj, action, reason, f"refused: {exc}")
        raise
