"""What stands between the chainhook endpoint and someone guessing a hook's secret.

Failed authentications are counted per hook name and per client address in the shared cache
(one window of `WINDOW_SECONDS`); past `FAILURES_ALLOWED` in either, the endpoint answers 429
with Retry-After before even comparing. An unknown hook and a wrong secret get the same 401,
so the endpoint does not tell which hook names exist, and a secret shorter than
`MIN_SECRET_CHARS` is never accepted (the admin refuses to store one).
"""

from __future__ import annotations

import hmac
import math
import time

from django.core.cache import cache
from rest_framework import exceptions

MIN_SECRET_CHARS = 32
FAILURES_ALLOWED = 10
WINDOW_SECONDS = 60
# Compared against when the hook does not exist, so that an unknown name costs the same time.
_DUMMY = b"x" * 64


def _keys(name: str, address: str) -> list[str]:
    window = int(time.time() // WINDOW_SECONDS)
    return [f"chainhook:fail:hook:{name}:{window}", f"chainhook:fail:addr:{address}:{window}"]


def check_not_blocked(name: str, address: str) -> None:
    """Throttled (429) while the hook or the address has used up its failures in this window."""
    counts = cache.get_many(_keys(name, address))
    if any(int(count) >= FAILURES_ALLOWED for count in counts.values()):
        wait = math.ceil(WINDOW_SECONDS - time.time() % WINDOW_SECONDS)
        raise exceptions.Throttled(
            wait=wait, detail=f"too many failed authentications for this hook or from this address; retry in {wait} s"
        )


def record_failure(name: str, address: str) -> None:
    for key in _keys(name, address):
        cache.add(key, 0, timeout=WINDOW_SECONDS + 1)
        try:
            cache.incr(key)
        except ValueError:
            cache.add(key, 1, timeout=WINDOW_SECONDS + 1)


def secret_matches(stored: str | None, given: bytes) -> bool:
    """Constant-time comparison; a missing or too short stored secret never matches."""
    expected = stored.encode() if stored else _DUMMY
    same = hmac.compare_digest(given, expected)
    return bool(stored) and len(stored or "") >= MIN_SECRET_CHARS and same
