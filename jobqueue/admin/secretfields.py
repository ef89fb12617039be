"""Write-only secrets in the admin: an `EncryptedTextField` is set or replaced, never shown.

Every user, superusers included, sees a secret as "set" / "not set" and when it was last
changed; the value itself is never rendered, not even as a read-only field for view-only
staff (Django's read-only rendering reads the attribute, which the field decrypts). A user
who may change the record gets an empty password input per secret: left empty, the stored
value is kept; filled in, it replaces it and an audit entry "set secret" names the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MinLengthValidator
from django.db import models
from django.http import HttpRequest

from jobqueue.secrets.fields import EncryptedTextField
from jobqueue.services.audit import record

SET_SECRET = "set secret"  # noqa: S105 -- the audit action's name, not a password

__all__ = ["SET_SECRET", "WriteOnlySecretsAdmin", "secret_columns", "secret_state"]


def secret_columns(model: type[models.Model]) -> list[str]:
    """The names of a model's encrypted (secret) columns, in declaration order."""
    return [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


def _last_set(obj: models.Model, name: str) -> LogEntry | None:
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        change_message__contains=SET_SECRET,
    ).order_by("-action_time")
    for entry in entries[:50]:
        try:
            message = json.loads(entry.change_message)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("action") == SET_SECRET and message.get("outcome") == name:
            return entry
    return None


def secret_state(obj: models.Model | None, name: str) -> str:
    """ "set, last changed <when> by <who>" / "set" / "not set": all anyone learns of a stored secret."""
    if obj is None or obj.pk is None:
        return "not set"
    # Emptiness is the one lookup the field allows, so the value is never decrypted here.
    stored = type(obj)._base_manager.filter(pk=obj.pk).exclude(**{f"{name}__isnull": True}).exclude(**{name: ""})
    if not stored.exists():
        return "not set"
    entry = _last_set(obj, name)
    if entry is None:
        return "set"
    return f"set, last changed {entry.action_time:%Y-%m-%d %H:%M} UTC by {entry.user}"


def _state_display(name: str, label: str) -> Callable[[models.Model], str]:
    def display(obj: models.Model) -> str:
        return secret_state(obj, name)

    display.short_description = f"{label} (stored)"  # type: ignore[attr-defined]
    return display


class WriteOnlySecretsAdmin(admin.ModelAdmin):
    """A ModelAdmin whose encrypted columns are write-only for everyone (see the module docstring).

    `secret_min_lengths` refuses a new value shorter than the given length, per field.
    """

    secret_min_lengths: dict[str, int] = {}

    def __init__(self, model: type[models.Model], admin_site: admin.AdminSite) -> None:
        self.secret_names = secret_columns(model)
        for name in self.secret_names:
            label = str(getattr(model._meta.get_field(name), "verbose_name", name))
            setattr(self, f"{name}_state", _state_display(name, label))
        super().__init__(model, admin_site)

    def _states(self) -> list[str]:
        return [f"{name}_state" for name in self.secret_names]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = [f for f in super().get_fields(request, obj) if f not in self._states()]
        may_write = obj is None or self.has_change_permission(request, obj)
        shown: list[Any] = []
        for name in fields:
            if name not in self.secret_names:
                shown.append(name)
                continue
            if may_write:
                shown.append(name)
            if obj is not None:
                shown.append(f"{name}_state")
        return shown

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), *self._states()]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        for name in self.secret_names:
            field = form.base_fields.get(name)
            if field is None:
                continue
            field.widget = forms.PasswordInput(render_value=False)
            if obj is not None:
                field.required = False
                field.help_text = "write-only: leave empty to keep the stored value, or enter a new one to replace it"
            shortest = self.secret_min_lengths.get(name)
            if shortest:
                field.validators = [*field.validators, MinLengthValidator(shortest)]
                field.help_text = f"at least {shortest} characters; {field.help_text}"
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        replaced = [name for name in self.secret_names if form.cleaned_data.get(name)]
        if change:
            stored = type(obj)._base_manager.get(pk=obj.pk)
            for name in self.secret_names:
                if name not in replaced:
                    setattr(obj, name, getattr(stored, name))  # empty input: keep what is stored
        super().save_model(request, obj, form, change)
        for name in replaced:
            record(request.user, obj, SET_SECRET, "", name)

    def construct_change_message(self, request: HttpRequest, form: Any, formsets: Any, add: bool = False) -> Any:
        # Django names every secret input as "changed" (it starts empty); only real replacements
        # are named, by the "set secret" entries.
        message = super().construct_change_message(request, form, formsets, add)
        for part in message:
            changed = part.get("changed")
            if changed:
                labels = {str(form.fields[n].label) for n in self.secret_names if n in form.fields}
                changed["fields"] = [f for f in changed["fields"] if f not in labels]
        return [part for part in message if not part.get("changed") or part["changed"]["fields"]]
