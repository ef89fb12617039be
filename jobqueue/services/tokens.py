"""API tokens: create (the secret is returned once, only its SHA-256 is kept), revoke, verify."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from jobqueue.config.settings import jobqueue_settings
from jobqueue.exceptions import InvalidStateError
from jobqueue.models import ApiToken
from jobqueue.services.audit import Actor, record

# A token reads "jq_<prefix>_<secret>": the prefix finds the row, the whole string is hashed.
SCHEME = "jq"
PREFIX_CHARS = 8
FOR_OTHERS = "jobqueue.issue_token_for_others"


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the full token string; shown to its owner once and never stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def may_act_for(actor: Actor, owner: Any) -> bool:
    """Whether `actor` may issue, revoke or edit a token of `owner`: their own always; another
    user's only with `issue_token_for_others` (superusers hold it). The CLI and the system
    (a string or None) run with shell access to the database, so they may."""
    if actor is None or isinstance(actor, str):
        return True
    return bool(getattr(actor, "pk", None) == getattr(owner, "pk", object()) or actor.has_perm(FOR_OTHERS))


def _check_may_act_for(actor: Actor, owner: Any, what: str) -> None:
    if not may_act_for(actor, owner):
        raise PermissionDenied(
            f"{what} a token of another user ({owner}) needs the permission {FOR_OTHERS}; "
            "without it you manage your own tokens only"
        )


def _for_whom(actor: Actor, owner: Any) -> str:
    acting = getattr(actor, "pk", None)
    return "" if acting is None or acting == getattr(owner, "pk", None) else f"for another user ({owner})"


def create_token(
    user: Any, name: str, *, expires_at: datetime | None = None, by: Actor = None, save: bool = True
) -> IssuedToken:
    """Issue a token for `user`. The returned secret cannot be recovered later.

    Raises PermissionDenied when `by` is another user without `issue_token_for_others`.
    """
    _check_may_act_for(by, user, "issuing")
    for _ in range(5):
        prefix = secrets.token_hex(PREFIX_CHARS // 2)
        secret = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
        token = ApiToken(user=user, name=name[:100], prefix=prefix, key_hash=hash_secret(secret), expires_at=expires_at)
        if not save:
            return IssuedToken(token, secret)
        try:
            with transaction.atomic():
                token.save(force_insert=True)
        except IntegrityError:
            continue  # a prefix collision (1 in 4 billion): draw another
        record(by, token, "create token", _for_whom(by, user), f"issued to {user}")
        return IssuedToken(token, secret)
    raise InvalidStateError("could not draw an unused token prefix; try again")


def revoke_token(token: ApiToken, *, by: Actor = None, reason: str = "") -> ApiToken:
    """Revoke at once; a revoked token is refused from its next request on.

    Raises PermissionDenied when `by` is another user without `issue_token_for_others`.
    """
    _check_may_act_for(by, token.user, "revoking")
    if token.revoked_at is not None:
        raise InvalidStateError(f"token {token.prefix} was already revoked at {token.revoked_at:%Y-%m-%d %H:%M}")
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    record(by, token, "revoke token", " ".join(filter(None, [reason, _for_whom(by, token.user)])), "revoked")
    return token


def change_expiry(token: ApiToken, expires_at: datetime | None, *, by: Actor = None) -> ApiToken:
    """Set when a token stops working (None: never). Audited; same ownership rule as revoking."""
    _check_may_act_for(by, token.user, "changing the expiry of")
    before = ApiToken.objects.values_list("expires_at", flat=True).get(pk=token.pk)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=expires_at)
    token.expires_at = expires_at
    record(
        by,
        token,
        "change token expiry",
        _for_whom(by, token.user),
        f"expires {expires_at or 'never'} (was {before or 'never'})",
    )
    return token


def verify(secret: str, now: datetime | None = None) -> ApiToken | None:
    """The live token this secret belongs to, or None (unknown, wrong, expired or revoked)."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != SCHEME or len(parts[1]) != PREFIX_CHARS:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.key_hash, hash_secret(secret)):
        return None
    now = now or timezone.now()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    _touch(token, now)
    return token


def _touch(token: ApiToken, now: datetime) -> None:
    # At most one write per token per interval, however many requests it makes.
    stale = now - timedelta(seconds=jobqueue_settings.API_TOKEN_TOUCH_INTERVAL)
    if token.last_used_at is None or token.last_used_at < stale:
        ApiToken.objects.filter(Q(pk=token.pk) & (Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale))).update(
            last_used_at=now
        )
        token.last_used_at = now
