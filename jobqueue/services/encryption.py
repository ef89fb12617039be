"""Stored secrets as a whole: re-encrypt them all with the current key, and find unreadable ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast

from jobqueue.models import JobType
from jobqueue.registry import registry
from jobqueue.secrets import crypto
from jobqueue.secrets.fields import EncryptedTextField
from jobqueue.secrets.sealing import reseal_settings, sealed_tokens

logger = logging.getLogger("jobqueue")

_CHUNK = 500


@dataclass
class RotationReport:
    """What `rotate_key()` re-encrypted, and what no configured key could read."""

    columns: dict[str, int] = field(default_factory=dict)  # "app_label.Model.field" -> values re-encrypted
    job_types: list[str] = field(default_factory=list)  # records whose settings hold secrets
    failures: list[str] = field(default_factory=list)  # where a value could not be decrypted


def encrypted_columns() -> list[tuple[type[models.Model], EncryptedTextField]]:
    """Every EncryptedTextField of every installed model (concrete, declared on that model)."""
    return [
        (model, column)
        for model in apps.get_models()
        for column in model._meta.local_concrete_fields
        if isinstance(column, EncryptedTextField)
    ]


def _stored(model: type[models.Model], column: EncryptedTextField) -> models.QuerySet[models.Model]:
    # Cast to a plain TextField: the value as stored (the token), without the field's decryption.
    return (
        model._base_manager.exclude(**{f"{column.name}__isnull": True})
        .exclude(**{column.name: ""})
        .annotate(stored_token=Cast(column.name, output_field=models.TextField()))
    )


def _rotate_column(model: type[models.Model], column: EncryptedTextField, report: RotationReport) -> None:
    label = f"{model._meta.label}.{column.name}"
    count = 0
    rows = _stored(model, column).values_list("pk", "stored_token").order_by("pk")
    last = None
    while True:
        chunk = list((rows.filter(pk__gt=last) if last is not None else rows)[:_CHUNK])
        if not chunk:
            break
        with transaction.atomic():
            for pk, token in chunk:
                try:
                    fresh = crypto.reencrypt(token)
                except crypto.DecryptionError:
                    report.failures.append(f"{label} of row {pk}")
                    continue
                # A Value with a plain TextField output is written as is (not encrypted again).
                model._base_manager.filter(pk=pk).update(**{column.name: models.Value(fresh, models.TextField())})
                count += 1
        last = chunk[-1][0]
    report.columns[label] = count


def _rotate_job_types(report: RotationReport) -> None:
    with transaction.atomic():
        for record in JobType.objects.select_for_update().order_by("pk"):
            if not isinstance(record.settings, dict):
                continue
            model = registry.get(record.name).settings_model if record.name in registry else None
            try:
                fresh = reseal_settings(model, record.settings)
            except crypto.DecryptionError:
                report.failures.append(f"settings of job type {record.name}")
                continue
            if fresh != record.settings or sealed_tokens(record.settings):
                JobType.objects.filter(pk=record.pk).update(settings=fresh)
                report.job_types.append(record.name)
    from jobqueue.config.effective import clear_cache

    clear_cache()


def rotate_key() -> RotationReport:
    """Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS.

    Each value is decrypted with whichever configured key made it. Values no key decrypts are
    listed in `failures` and left as they are; everything else is rotated, so the command can
    be run again once the missing key is added. Secrets of job type settings still in clear
    (stored before encryption existed) are sealed on the way.
    """
    crypto.fernet()  # a missing or malformed key stops here, before anything is read
    report = RotationReport()
    for model, column in encrypted_columns():
        _rotate_column(model, column, report)
    _rotate_job_types(report)
    logger.info(
        "re-encrypted stored secrets with the current key: %s; job types %s; unreadable: %d",
        report.columns,
        report.job_types,
        len(report.failures),
    )
    return report


def unreadable_secrets() -> list[str]:
    """Stored secrets of job type settings that no configured key decrypts (for system checks)."""
    found = []
    for record in JobType.objects.only("name", "settings"):
        for name, token in sealed_tokens(record.settings).items():
            try:
                crypto.decrypt(token)
            except crypto.DecryptionError:
                found.append(f"{record.name}.settings.{name}")
    return found
