"""The job type form's layout: every option says its code default, and an override is set or
cleared explicitly (never a "Unknown" choice). Validation stays in the form's clean() and the
shared validators of jobqueue.config.options; this module only shapes fields and widgets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from jobqueue.config.effective import resolve_for
from jobqueue.config.options import OPTIONS
from jobqueue.models import JobType
from jobqueue.registry import registry

BOOLEAN_OPTIONS = ("enabled", "overlap")
CLEAR_PREFIX = "clear_"


def default_text(name: str, value: Any) -> str:
    return OPTIONS[name].show(value)


def _to_bool(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


class OverrideFields(forms.ModelForm):
    """Per option: the code default in the help text and placeholder; booleans as a three-way choice
    that names the default; a "clear the override" box beside every option that has one.

    Put it before the job type form in the bases: it lays out the fields that form built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        record = self.instance
        definition = registry.get(record.name) if record.pk and record.name in registry else None
        config = resolve_for(definition, record) if definition is not None else None
        for name in OPTIONS:
            if name not in self.fields:
                continue
            default = default_text(name, definition.defaults.get(name)) if definition else "unknown type"
            effective = ""
            if config is not None:
                effective = (
                    f" · effective now: {default_text(name, config.values.get(name))} ({config.sources[name].value})"
                )
            help_text = f"code default: {default}{effective}. {OPTIONS[name].help}"
            field = self.fields[name]
            if name in BOOLEAN_OPTIONS:
                # The field (and its validation) stays the form's; only the choices say what "empty" means.
                field.widget.choices = [
                    ("", f"use the code default ({default})"),
                    ("True", "yes (override)"),
                    ("False", "no (override)"),
                ]
                field.help_text = help_text
                continue
            field.help_text = help_text
            field.widget.attrs["placeholder"] = f"code default: {default}"
            self.fields[CLEAR_PREFIX + name] = forms.BooleanField(
                required=False, label=f"clear the override (use the code default: {default})"
            )

    @property
    def changed_data(self) -> list[str]:
        """Options whose override is cleared count as changed; the clear boxes themselves never do."""
        changed = [n for n in super().changed_data if not n.startswith(CLEAR_PREFIX)]
        for name in OPTIONS:
            box = CLEAR_PREFIX + name
            if box in self.fields and self[box].data and self.initial.get(name) is not None and name not in changed:
                changed.append(name)
        return changed

    def clean(self) -> dict[str, Any]:
        # Before the job type form's clean() (next in line): a ticked box clears its option, so
        # that the shared validation and the model instance see the cleared value.
        for name in OPTIONS:
            if self.cleaned_data.get(CLEAR_PREFIX + name):
                self.cleaned_data[name] = None
        return super().clean() or {}


# Declared on the class (the admin builds its form from the declared fields it lays out).
for _name in OPTIONS:
    if _name not in BOOLEAN_OPTIONS:
        OverrideFields.declared_fields[CLEAR_PREFIX + _name] = forms.BooleanField(required=False)
OverrideFields.base_fields = dict(OverrideFields.declared_fields)


def option_rows(record: JobType | None, names: Sequence[str]) -> list[Any]:
    """The form's rows: an overridden option shares its line with its "clear" box."""
    rows: list[Any] = []
    for name in names:
        if record is not None and name in OPTIONS and name not in BOOLEAN_OPTIONS and getattr(record, name) is not None:
            rows.append((name, CLEAR_PREFIX + name))
        else:
            rows.append(name)
    return rows


class EffectiveEnabledFilter(admin.SimpleListFilter):
    """Filter by whether the type runs (its effective enabled flag: code, record or environment)."""

    title = "enabled"
    parameter_name = "running"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Enabled"), ("no", "Paused")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[JobType]) -> QuerySet[JobType]:
        wanted = _to_bool(self.value() or "")
        if wanted is None:
            return queryset
        # Job types are few (tens): resolving each one's configuration is cheap.
        keep = [
            record.pk
            for record in queryset
            if record.name in registry and bool(resolve_for(registry.get(record.name), record).enabled) == wanted
        ]
        return queryset.filter(pk__in=keep)
