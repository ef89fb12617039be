"""What every API view shares: authentication, per-action permissions, strict JSON, the error
shape, enqueue throttling and backpressure, and the refused-action audit record."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from rest_framework import viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from jobqueue.api.authentication import ApiTokenAuthentication, SessionAuthentication
from jobqueue.api.errors import Backlogged, handle_exception
from jobqueue.api.parsers import StrictJSONParser
from jobqueue.api.permissions import ActionPermission
from jobqueue.api.schema import OwnDocsAutoSchema
from jobqueue.api.throttling import EnqueueRateThrottle
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
    throttled_actions: frozenset[str] = frozenset()

    def get_exception_handler(self) -> Callable[..., Any]:
        return handle_exception

    def get_throttles(self) -> list[BaseThrottle]:
        return [EnqueueRateThrottle()] if self.action in self.throttled_actions else []


def check_backlog(type_names: list[str]) -> None:
    """503 with Retry-After when enqueueing would push a type's ready backlog over the bound."""
    bound = int(jobqueue_settings.API_MAX_READY_PER_TYPE)
    for name, incoming in Counter(type_names).items():
        type_id = JobType.objects.filter(name=name).values_list("pk", flat=True).first()
        if type_id is None:
            continue  # unknown types are refused with 400 by the services
        # Counting at most bound+1 rows keeps this cheap however long the backlog is.
        ready = Job.objects.ready().filter(job_type_id=type_id)[: bound + 1].count()
        if ready + incoming > bound:
            raise Backlogged(
                f"job type {name!r} has {ready} ready jobs waiting (limit {bound}); retry later",
                wait=int(jobqueue_settings.API_BACKLOG_RETRY_AFTER),
            )


def audited(request: Request, obj: Any, action: str, reason: str, call: Callable[[], Any]) -> Any:
    """Run a service call; when the services refuse it, record the refusal before answering (409 for
    the object's state, 403 for the job type's permission)."""
    try:
        return call()
    except (InvalidStateError, ActionRefused) as exc:
        record(request.user, obj, action, reason, f"refused: {exc}")
        raise
