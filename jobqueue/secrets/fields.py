"""Model fields that keep secrets encrypted at rest (Fernet tokens, see jobqueue.secrets.crypto)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Lookup

from jobqueue.secrets import crypto

# Tokens are random (a fresh IV each time), so only emptiness can be looked up.
_LOOKUPS = {"isnull", "exact"}


class EncryptedTextField(models.TextField):
    """A text column that stores a Fernet token and gives back the plaintext `str` in Python.

    `""` is stored as `""` (an empty secret is not a secret), None as NULL. Lookups other than
    `isnull` and `exact` are refused, and `exact` only finds `""`: a token never repeats.
    `manage.py jobqueue rotate-key` re-encrypts every such column with the current key.
    """

    description = "Text encrypted at rest"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.decrypt(str(value))

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> type[Lookup[Any]] | None:
        if lookup_name not in _LOOKUPS:
            return None
        return super().get_lookup(lookup_name)
