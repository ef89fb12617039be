"""The audit trail of operator actions, kept as Django admin log entries (who, what, why, outcome)."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models

logger = logging.getLogger("jobqueue.audit")

Actor = Any  # a User, or a label such as "cli" / "schedule"; None for the system itself


def actor_label(actor: Actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    username = getattr(actor, "get_username", None)
    return f"user:{username()}" if callable(username) else str(actor)


def one_line(text: object) -> str:
    """Text for a log line: control characters (newlines included) escaped as `\\n`, `\\x1b`, ...,
    so that an operator's reason cannot write a forged line into the audit log."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))


def record(actor: Actor, obj: models.Model, action: str, reason: str, outcome: str) -> None:
    """Write one audit entry; entries by a user land in the admin's history of the object."""
    message = json.dumps({"action": action, "reason": reason, "outcome": outcome})
    logger.info(
        "%s %s %s %s: %s (%s)",
        *(one_line(part) for part in (actor_label(actor), action, obj._meta.model_name, obj.pk, outcome, reason)),
    )
    user_id = getattr(actor, "pk", None)
    if user_id is None or isinstance(actor, str):
        return
    LogEntry.objects.create(
        user_id=user_id,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action_flag=CHANGE,
        change_message=message,
    )
