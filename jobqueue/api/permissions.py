"""Which Django permission each API action needs: views declare it per action, this checks it."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class ActionPermission(BasePermission):
    """Grant an action when the user holds every permission `view.required_permissions[action]`.

    An action missing from the map is refused (closed by default); a method the view does not
    route (action None) passes here so that the caller gets 405 rather than 403.
    """

    message = "you lack the permission for this action"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        action = getattr(view, "action", None)
        if action is None:
            return True
        required = getattr(view, "required_permissions", {}).get(action)
        if required is None:
            return False
        if not user.has_perms(required):
            self.message = f"this action needs the permission {', '.join(required)}"
            return False
        return True
