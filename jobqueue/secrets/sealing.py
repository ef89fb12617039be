"""Secret settings of job types: which fields are secret, how they are masked, sealed and opened.

A `SecretStr` field of a job type's `Settings` model is stored in `JobType.settings` sealed,
as `{"<field>": {"$enc": "<Fernet token>"}}`; it is opened only to build the effective
configuration a job runs with (`jobqueue.config.effective.resolve_for`). Everything that shows
settings (admin, API, logs) shows `mask(value)` or `SecretState` instead ("set" / "not set", and
when it was last changed), and a mask sent back unchanged keeps the stored value.
"""

from __future__ import annotations

import contextlib
import datetime
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

from jobqueue.secrets import crypto

MASK = "**********"
SEALED = "$enc"

__all__ = [
    "MASK",
    "SEALED",
    "SecretState",
    "SentTo",
    "destination_errors",
    "destinations",
    "keep_masked",
    "mask",
    "masked_settings",
    "open_settings",
    "reseal_settings",
    "seal_settings",
    "sealed_tokens",
    "secret_fields",
    "secret_paths",
]


def mask(value: object) -> str:
    """What is shown in place of a secret: the mask when there is one, "" when it is empty."""
    if isinstance(value, pydantic.SecretStr | pydantic.SecretBytes):
        value = value.get_secret_value()
    return MASK if value not in (None, "", b"") else ""


@dataclass(frozen=True)
class SecretState:
    """All anyone is shown of a secret: whether it is set, and when it was last changed (the
    time its stored token was made; None for a value from the environment or the code)."""

    is_set: bool
    changed_at: datetime.datetime | None = None

    @classmethod
    def of(cls, value: object, stored: object = None) -> SecretState:
        """The state of the secret `value` (its effective value: str, SecretStr or sealed), given
        `stored`, its stored form in the job type's record when that is where `value` comes from."""
        is_set = bool(mask(value))
        token = stored.get(SEALED) if is_set and isinstance(stored, dict) and is_sealed(stored) else None
        return cls(is_set, crypto.encrypted_at(token) if token else None)

    @property
    def label(self) -> str:
        return "set" if self.is_set else "not set"

    def __str__(self) -> str:
        if self.changed_at is None:
            return self.label
        return f"set, last changed {self.changed_at:%Y-%m-%d %H:%M} UTC"


def _is_secret(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.SecretStr | pydantic.SecretBytes):
        return True
    return any(_is_secret(arg) for arg in typing.get_args(annotation))  # Optional, Annotated, unions


def secret_fields(model: Any) -> set[str]:
    """The names of a Settings model's secret fields (SecretStr, also inside Optional / Annotated)."""
    if model is None:
        return set()
    return {name for name, field in model.model_fields.items() if _is_secret(field.annotation)}


def secret_paths(model: Any, prefix: str = "", seen: frozenset[Any] = frozenset()) -> list[str]:
    """The dotted paths of every secret field of a model, in nested models too (`embeds.token`)."""
    found: list[str] = []
    for name, field in model.model_fields.items():
        if _is_secret(field.annotation):
            found.append(prefix + name)
            continue
        for nested in _models_in(field.annotation):
            if nested not in seen:  # a model that contains itself
                found.extend(secret_paths(nested, f"{prefix}{name}.", seen | {model}))
    return found


def _models_in(annotation: Any) -> list[Any]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]  # list[...], Optional, unions


def is_sealed(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {SEALED} and isinstance(value[SEALED], str)


def seal_settings(model: Any, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as stored: every non-empty secret in clear becomes `{"$enc": token}`."""
    secret = secret_fields(model)
    return {
        key: ({SEALED: crypto.encrypt(value)} if key in secret and isinstance(value, str) and value else value)
        for key, value in settings.items()
    }


def open_settings(settings: object) -> dict[str, Any]:
    """Stored settings with every sealed secret decrypted (for the effective configuration only).

    A secret no configured key decrypts stays sealed: it then fails validation as that field's
    error (system checks jobqueue.E005 / E021), and is never used as a value.
    """
    if not isinstance(settings, dict):
        return {}
    opened: dict[str, Any] = {}
    for key, value in settings.items():
        if is_sealed(value):
            with contextlib.suppress(crypto.DecryptionError):
                value = crypto.decrypt(value[SEALED])
        opened[key] = value
    return opened


def reseal_settings(model: Any, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings with every sealed secret re-encrypted with the current key, and any secret left
    in clear sealed (for `manage.py jobqueue rotate-key`). Raises crypto.DecryptionError."""
    resealed = {key: ({SEALED: crypto.reencrypt(v[SEALED])} if is_sealed(v) else v) for key, v in settings.items()}
    return seal_settings(model, resealed)


def sealed_tokens(settings: object) -> dict[str, str]:
    """The Fernet tokens of the sealed secrets of stored settings, by field."""
    if not isinstance(settings, dict):
        return {}
    return {key: value[SEALED] for key, value in settings.items() if is_sealed(value)}


def masked_settings(model: Any, settings: object) -> dict[str, Any]:
    """Stored settings for display: every secret field as `mask()` of its value."""
    if not isinstance(settings, dict):
        return {}
    secret = secret_fields(model)
    return {key: (mask(value) if key in secret else value) for key, value in settings.items()}


def keep_masked(model: Any, stored: object, new: Any) -> Any:
    """An edit of settings where a secret sent back as the mask keeps its stored (sealed) value."""
    if not isinstance(new, dict):
        return new
    old = stored if isinstance(stored, dict) else {}
    secret = secret_fields(model)
    return {key: (old.get(key, "") if key in secret and value == MASK else value) for key, value in new.items()}


@dataclass(frozen=True)
class SentTo:
    """Marks a secret setting with the setting(s) naming where it is sent:
    `llm_api_key: Annotated[SecretStr, SentTo("llm_base_url")]`. A secret without the mark
    follows every URL or host setting of its model (the safe reading of "where does it go")."""

    fields: tuple[str, ...]

    def __init__(self, *fields: str) -> None:
        object.__setattr__(self, "fields", fields)


def _is_destination(name: str) -> bool:
    return name in ("url", "host") or name.endswith(("_url", "_host"))


def destinations(model: Any) -> dict[str, tuple[str, ...]]:
    """For each secret field of a Settings model, the settings naming where it is sent."""
    if model is None:
        return {}
    secret = secret_fields(model)
    places = tuple(n for n in model.model_fields if n not in secret and _is_destination(n))
    found: dict[str, tuple[str, ...]] = {}
    for name in secret:
        marks = [m for m in model.model_fields[name].metadata if isinstance(m, SentTo)]
        found[name] = tuple(f for m in marks for f in m.fields) if marks else places
    return found


def destination_errors(model: Any, stored: object, new: Mapping[str, Any]) -> dict[str, list[str]]:
    """A stored secret does not follow its destination: when a URL or host setting changes, each
    non-empty secret sent there must be entered again (or emptied) in the same change.

    `new` is the edit after `keep_masked`, so a secret kept as it was is the very sealed value
    stored; one typed again arrives in clear, even if it is the same text.
    """
    old = stored if isinstance(stored, dict) else {}
    opened_old, opened_new = open_settings(old), open_settings(dict(new))
    defaults = model.model_fields if model is not None else {}
    errors: dict[str, list[str]] = {}
    for secret, places in destinations(model).items():
        moved = [p for p in places if opened_new.get(p, defaults[p].default) != opened_old.get(p, defaults[p].default)]
        kept = secret in old and mask(old[secret]) and new.get(secret, old[secret]) == old[secret]
        if moved and kept:
            errors.setdefault(f"settings.{secret}", []).append(
                f"{', '.join(moved)} changed, and the stored {secret} is not sent to a new destination: "
                f"enter {secret} again in the same change (or set it empty)"
            )
    return errors
