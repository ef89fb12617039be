"""Job type records: mirror the registry into the database, and apply operator edits."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from jobqueue.config.effective import clear_cache, record_fields, resolve_for
from jobqueue.config.options import OPTIONS
from jobqueue.models import JobType
from jobqueue.registry import JobDefinition, registry
from jobqueue.secrets.sealing import destination_errors, open_settings, seal_settings
from jobqueue.services.permissions import ensure_enqueue_permissions

logger = logging.getLogger("jobqueue")


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)


def sync_job_type(definition: JobDefinition) -> JobType:
    """Create or refresh the record of one definition; operator overrides are never touched."""
    described = record_fields(definition)
    record, created = JobType.objects.get_or_create(name=definition.name, defaults=described)
    if created:
        ensure_enqueue_permissions([definition.name])
    if not created and any(getattr(record, key) != value for key, value in described.items()):
        for key, value in described.items():
            setattr(record, key, value)
        record.synced_at = timezone.now()
        record.save(update_fields=[*described, "synced_at", "updated_at"])
    if not created:
        _drop_settings_gone_from_code(definition, record)
    return record


def _drop_settings_gone_from_code(definition: JobDefinition, record: JobType) -> None:
    """Remove stored settings whose field the code no longer declares.

    Such a value has no effect any more, and while it stays every edit of the record's settings
    is refused as naming an unknown setting; dropping it (with a warning naming it) keeps the
    record editable after a release removes a setting.
    """
    if not isinstance(record.settings, dict) or not record.settings:
        return
    declared = set(definition.settings_model.model_fields) if definition.settings_model is not None else set()
    gone = sorted(set(record.settings) - declared)
    if not gone:
        return
    record.settings = {key: value for key, value in record.settings.items() if key in declared}
    record.save(update_fields=["settings", "updated_at"])
    logger.warning(
        "job type %s: dropped stored settings its code no longer declares: %s", definition.name, ", ".join(gone)
    )


@transaction.atomic
def sync_job_types() -> SyncReport:
    """Mirror every registered definition as a record; mark records whose code is gone."""
    report = SyncReport()
    known = set(JobType.objects.values_list("name", flat=True))
    for definition in registry:
        before = JobType.objects.filter(name=definition.name).values_list("updated_at", flat=True).first()
        record = sync_job_type(definition)
        if definition.name not in known:
            report.created.append(definition.name)
        elif before != record.updated_at:
            report.updated.append(definition.name)
    ensure_enqueue_permissions(registry.names())
    orphans = JobType.objects.filter(registered=True).exclude(name__in=registry.names())
    report.orphaned = list(orphans.values_list("name", flat=True))
    if report.orphaned:
        orphans.update(registered=False, updated_at=timezone.now())
        logger.warning(
            "job types no longer defined in code, kept as unregistered (their jobs will not run): %s",
            ", ".join(report.orphaned),
        )
    clear_cache()
    return report


def update_job_type(record: JobType, changes: dict[str, Any]) -> JobType:
    """Apply an operator's edit of option columns and settings, refusing environment-pinned values.

    Raises ValidationError with field-level messages; writes nothing unless all are valid.
    """
    definition = registry.get(record.name)
    pins = resolve_for(definition, record).pins
    errors: dict[str, list[str]] = {}
    for name in changes:
        if name != "settings" and name not in OPTIONS:
            errors.setdefault(name, []).append(f"{name!r} is not an editable option")
        elif name in pins and changes[name] != getattr(record, name):
            errors.setdefault(name, []).append(
                f"pinned by the environment variable {pins[name]}; unset it to edit here"
            )
    if "settings" in changes:
        errors.update(settings_errors(definition, record, changes["settings"], pins))
    if changes.get("schedule") not in (None, "", "off"):
        required = [n for n, f in definition.payload_model.model_fields.items() if f.is_required()]
        if required:
            errors.setdefault("schedule", []).append(
                f"a schedule enqueues jobs with an empty payload, but this type requires {required}"
            )
    if errors:
        raise ValidationError(errors)
    if isinstance(changes.get("settings"), dict):
        # Secrets are stored sealed (Fernet); the effective configuration opens them.
        changes = {**changes, "settings": seal_settings(definition.settings_model, changes["settings"])}
    for name, value in changes.items():
        setattr(record, name, value)
    record.full_clean()
    record.save()
    clear_cache()
    return record


def settings_errors(
    definition: JobDefinition, record: JobType, new_settings: Any, pins: dict[str, str]
) -> dict[str, list[str]]:
    """Field-level errors of a settings edit: schema violations and edits of pinned fields."""
    import pydantic

    if definition.settings_model is None:
        return {} if not new_settings else {"settings": ["this job type declares no settings"]}
    if not isinstance(new_settings, dict):
        return {"settings": ["settings must be a JSON object"]}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(new_settings) - set(definition.settings_model.model_fields))
    if unknown:
        errors["settings"] = [f"unknown settings {unknown}; known: {sorted(definition.settings_model.model_fields)}"]
    errors.update(destination_errors(definition.settings_model, record.settings, new_settings))
    # Compared and validated in clear: a secret kept as it was arrives sealed.
    old, new_settings = open_settings(record.settings), open_settings(new_settings)
    for field_name, variable in pins.items():
        key = field_name.removeprefix("settings.")
        if field_name.startswith("settings.") and new_settings.get(key) != old.get(key):
            errors.setdefault(f"settings.{key}", []).append(f"pinned by the environment variable {variable}")
    try:
        definition.settings_model.model_validate(new_settings)
    except pydantic.ValidationError as exc:
        for err in exc.errors():
            path = ".".join(str(p) for p in err.get("loc", ()))
            errors.setdefault(f"settings.{path}", []).append(str(err["msg"]))
    return errors
