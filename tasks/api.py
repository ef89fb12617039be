"""`POST /api/chainhooks/<name>/`: Hiro Chainhook deliveries, answered by enqueueing one job per block.

The hook is found by name and authenticated by comparing the `Authorization` header with its
stored secret in constant time: an unknown hook and a wrong secret are the same 401, and
repeated failures per hook and per client address are 429 (`tasks.hookguard`); and the body is validated against the Chainhook
payload model (400 with each bad field's path). Then, in one transaction, one
`chainhook_block` job per block: rollbacks first, in the order delivered, then applies. The
job's unique key is the hook, the action and the block hash, so a redelivery enqueues
nothing. Nothing else happens in the request: it answers in milliseconds.
"""

from __future__ import annotations

from typing import Any

import pydantic
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import authentication, exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobqueue import enqueue
from jobqueue.api.errors import FieldErrors, handle_exception
from jobqueue.api.parsers import StrictJSONParser, check_json_value
from jobqueue.exceptions import pydantic_errors
from tasks import hookguard
from tasks.chain import ChainhookBlock
from tasks.chainhook import MAX_JSON_DEPTH, Delivery, chain_block, max_body_bytes
from tasks.models import Chainhook


class ChainhookSecretAuthentication(authentication.BaseAuthentication):
    """The hook named in the URL, if the `Authorization` header is its secret."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        name = request.parser_context["kwargs"]["name"] if request.parser_context else ""
        address = str(request.META.get("REMOTE_ADDR", ""))
        hookguard.reserve_attempt(name, address)  # counted as a failure unless it succeeds
        hook = Chainhook.objects.filter(name=name, is_active=True).first()
        given = authentication.get_authorization_header(request)
        if hook is None or not hookguard.secret_matches(hook.secret, given):
            # One answer for an unknown hook and a wrong secret: names are not disclosed.
            raise exceptions.AuthenticationFailed("no active chainhook of this name has this secret")
        hookguard.forgive_attempt(name, address)
        return AnonymousUser(), hook

    def authenticate_header(self, request: Request) -> str:
        return 'Chainhook realm="chainhooks"'


class IsChainhook(BasePermission):
    """Only a caller the hook's secret authenticated."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Chainhook)


class ChainhookSecretScheme(OpenApiAuthenticationExtension):
    target_class = "tasks.api.ChainhookSecretAuthentication"
    name = "chainhookSecret"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "the hook's secret: the exact authorization_header its chainhook is configured to send",
        }


ACCEPTED = inline_serializer(
    "ChainhookAccepted",
    {
        "enqueued": serializers.IntegerField(help_text="new block jobs"),
        "duplicates": serializers.IntegerField(help_text="blocks already delivered: nothing enqueued"),
        "jobs": serializers.ListField(child=serializers.UUIDField()),
    },
)


class ChainhookJSONParser(StrictJSONParser):
    """The API's strict parser with the chainhook endpoint's own limits: whole blocks (up to
    `CHAINHOOK_MAX_BODY_BYTES`) and NUL characters, which Chainhook's decoded Clarity strings can
    hold (they reach the database only inside JSON text, escaped: see PrintEvent)."""

    def body_limit(self) -> int:
        return max_body_bytes()

    def check(self, data: Any) -> None:
        check_json_value(data, MAX_JSON_DEPTH, allow_nul=True)


class ChainhookView(APIView):
    authentication_classes = [ChainhookSecretAuthentication]
    permission_classes = [IsChainhook]
    parser_classes = [ChainhookJSONParser]
    renderer_classes = [JSONRenderer]
    throttle_classes: list[Any] = []
    metadata_class = None  # OPTIONS is not offered: 405, as in the API's viewsets

    def get_exception_handler(self) -> Any:
        return handle_exception

    @extend_schema(
        operation_id="chainhook_deliver",
        summary="Receive a Hiro Chainhook delivery",
        request=Delivery,
        responses={202: ACCEPTED, 400: OpenApiResponse(description="invalid delivery: errors by field path")},
        tags=["chainhooks"],
    )
    def post(self, request: Request, name: str) -> Response:
        hook: Chainhook = request.auth
        try:
            delivery = Delivery.model_validate(request.data)
        except pydantic.ValidationError as exc:
            raise FieldErrors("invalid chainhook delivery", pydantic_errors(exc)) from None
        blocks = [("rollback", block) for block in delivery.rollback] + [("apply", block) for block in delivery.apply]
        with transaction.atomic():
            jobs = [
                enqueue(
                    ChainhookBlock,
                    {
                        "hook": hook.name,
                        "network": hook.network,
                        "action": action,
                        "block": chain_block(block).model_dump(mode="json"),
                    },
                    unique_key=f"{hook.name}:{action}:{block.block_identifier.hash}",
                    created_by=f"chainhook:{hook.name}",
                )
                for action, block in blocks
            ]
            Chainhook.objects.filter(pk=hook.pk).update(last_delivery_at=timezone.now())
        new = [job for job in jobs if not job.is_duplicate]
        return Response(
            {"enqueued": len(new), "duplicates": len(jobs) - len(new), "jobs": [str(job.pk) for job in jobs]},
            status=status.HTTP_202_ACCEPTED,
        )
