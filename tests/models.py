"""Models of the test suite only: a record with an encrypted column, as a project would declare one."""

from __future__ import annotations

from django.db import models

from jobqueue.secrets.fields import EncryptedTextField


class Credential(models.Model):
    """A named secret (an API key, a webhook URL) kept encrypted at rest."""

    name = models.CharField(max_length=50)
    secret = EncryptedTextField(blank=True)
    optional = EncryptedTextField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
