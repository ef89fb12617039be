"""Which Django permission each API action needs: views declare it per action, this checks it."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from jobqueue.api.errors import EnqueueForbidden
from jobqueue.services.permissions import refusals


class ActionPermission(BasePermission):
    """Grant an action when the user holds every permission `view.required_permissions[action]`.

    An action missing from the map is refused (closed by default); a method the view does not
    route (action None) passes here so that the caller gets 405 rather than 403, and so does
    OPTIONS (DRF's "metadata" action), which the API does not offer (`metadata_class = None`).
    """

    message = "you lack the permission for this action"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        action = getattr(view, "action", None)
        if action is None or action == "metadata":
            return True
        required = getattr(view, "required_permissions", {}).get(action)
        if required is None:
            return False
        if not user.has_perms(required):
            self.message = f"this action needs the permission {', '.join(required)}"
            return False
        return True


def require_enqueue(user: Any, type_names: dict[str, str]) -> None:
    """403 unless `user` may enqueue every type; `type_names` maps a field path to a type name.

    Checked after the action's own permission: each type needs `jobqueue.enqueue_<type>`, and
    the built-in `jobqueue_*` types are refused to everyone.
    """
    refused = refusals(user, type_names.values())
    if refused:
        errors = {path: [refused[name]] for path, name in type_names.items() if name in refused}
        first = next(iter(refused.values()))
        detail = first if len(refused) == 1 else f"{len(refused)} job types may not be enqueued by you"
        raise EnqueueForbidden(f"{detail}; nothing was enqueued", errors)
