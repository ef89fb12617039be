"""Encryption of stored secrets with Fernet keys from the `FIELD_ENCRYPTION_KEYS` setting.

The setting is a list of Fernet keys (the environment variable of the same name, comma
separated): the first encrypts, every one decrypts, so a key is rotated by putting the new
one first, running `manage.py jobqueue rotate-key`, then dropping the old one. With DEBUG on
and no key, a key derived from SECRET_KEY is used (system check jobqueue.W020 says so); with
DEBUG off a missing key is the error jobqueue.E020, and encrypting or decrypting raises.
"""

from __future__ import annotations

import base64
import datetime
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "DecryptionError",
    "configured_keys",
    "decrypt",
    "encrypt",
    "encrypted_at",
    "generate_key",
    "is_token",
    "reencrypt",
]

_HKDF_INFO = b"jobqueue field encryption (development only)"


class DecryptionError(ValueError):
    """A stored secret that none of the configured keys decrypts."""


def generate_key() -> str:
    """A new random Fernet key, as the text to put in FIELD_ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode("ascii")


def configured_keys() -> list[str]:
    """The keys of the FIELD_ENCRYPTION_KEYS setting, blanks removed (a list or a comma-separated string)."""
    raw = getattr(settings, "FIELD_ENCRYPTION_KEYS", None) or []
    if isinstance(raw, str):
        raw = raw.split(",")
    return [key.strip() for key in raw if key and key.strip()]


def development_key() -> str:
    """The key used when DEBUG is on and no key is configured: stable for a given SECRET_KEY."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        str(settings.SECRET_KEY).encode("utf-8")
    )
    return base64.urlsafe_b64encode(derived).decode("ascii")


def _keys() -> tuple[str, ...]:
    keys = configured_keys()
    if keys:
        return tuple(keys)
    if settings.DEBUG:
        return (development_key(),)
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS is not set, so stored secrets cannot be encrypted or decrypted. "
        f"Set it in the environment to a Fernet key, e.g. {generate_key()} "
        "(or set DEBUG=true to use a key derived from SECRET_KEY)."
    )


@functools.lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode("ascii")) for key in keys])
    except (ValueError, UnicodeEncodeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded bytes); "
            f"generate one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' "
            f"({exc})"
        ) from exc


def fernet() -> MultiFernet:
    """The MultiFernet of the configured keys (cached per key list, so a settings change applies)."""
    return _fernet(_keys())


def encrypt(plaintext: str) -> str:
    """A Fernet token of `plaintext`, made with the first (current) key."""
    return fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """The plaintext of a token made with any of the configured keys."""
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise DecryptionError(
            "a stored secret cannot be decrypted: the key that encrypted it is not in FIELD_ENCRYPTION_KEYS"
        ) from exc


def reencrypt(token: str) -> str:
    """The same plaintext encrypted again with the current key (decrypted with any known key)."""
    try:
        return fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise DecryptionError(
            "a stored secret cannot be re-encrypted: the key that encrypted it is not in FIELD_ENCRYPTION_KEYS"
        ) from exc


def encrypted_at(token: str) -> datetime.datetime | None:
    """When a token was made: the time Fernet writes into each token (authenticated, and kept by
    `reencrypt`, so rotating the key does not change it); None when no configured key fits."""
    try:
        seconds = fernet().extract_timestamp(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        return None
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def is_token(value: str) -> bool:
    """Whether `value` looks like a Fernet token (version byte 0x80: base64 text starting "gAAAA")."""
    return value.startswith("gAAAA")
