"""What stands between the chainhook endpoint and someone guessing a hook's secret.

Each authentication reserves one of `FAILURES_ALLOWED` attempts per hook name and per client
address in the current window of `WINDOW_SECONDS` before the secret is compared, and a
success gives its reservation back: so failures are what is counted, and past the allowance in
either the endpoint answers 429 with Retry-After without comparing. The counts are the same
atomic rows of the database as the job rate (`jobqueue.services.jobrate`), shared by every
process: guesses sent in parallel cannot all pass a check before any of them is counted (a
cache's get-then-set would let them). An unknown hook and a wrong secret get the same 401, so
the endpoint does not tell which hook names exist, and a secret shorter than
`MIN_SECRET_CHARS` is never accepted (the admin refuses to store one).
"""

from __future__ import annotations

import hashlib
import hmac

from rest_framework import exceptions

from jobqueue.services.jobrate import JobRateExceeded, Rate, give_back, spend

MIN_SECRET_CHARS = 32
FAILURES_ALLOWED = 10
WINDOW_SECONDS = 60
_GUESSES = Rate(FAILURES_ALLOWED, WINDOW_SECONDS)
# Compared against when the hook does not exist, so that an unknown name costs the same time.
_DUMMY = b"x" * 64


def _subjects(name: str, address: str) -> list[str]:
    # Hashed: a name or an address of any length fits the counter's column, and the two kinds
    # never meet a user's job-rate subject.
    return [
        f"chainhook:hook:{hashlib.sha256(name.encode()).hexdigest()}",
        f"chainhook:addr:{hashlib.sha256(address.encode()).hexdigest()}",
    ]


def reserve_attempt(name: str, address: str) -> None:
    """Count one attempt for the hook and the address, or raise Throttled (429) counting none."""
    reserved: list[str] = []
    try:
        for subject in _subjects(name, address):
            spend(subject, 1, rate=_GUESSES)
            reserved.append(subject)
    except JobRateExceeded as exc:
        for subject in reserved:
            give_back(subject, 1, _GUESSES)
        raise exceptions.Throttled(
            wait=exc.retry_after,
            detail=f"too many failed authentications for this hook or from this address; retry in {exc.retry_after} s",
        ) from None


def forgive_attempt(name: str, address: str) -> None:
    """A successful authentication: give back what `reserve_attempt` counted."""
    for subject in _subjects(name, address):
        give_back(subject, 1, _GUESSES)


def secret_matches(stored: str | None, given: bytes) -> bool:
    """Constant-time comparison; a missing or too short stored secret never matches."""
    expected = stored.encode() if stored else _DUMMY
    same = hmac.compare_digest(given, expected)
    return bool(stored) and len(stored or "") >= MIN_SECRET_CHARS and same
