"""The backoff policy, table-tested."""

from __future__ import annotations

import pytest

from jobqueue.engine.backoff import retry_delay

pytestmark = pytest.mark.database_independent


@pytest.mark.parametrize(
    ("attempt", "base", "factor", "maximum", "expected"),
    [
        (1, 30, 2, 3600, 30),
        (2, 30, 2, 3600, 60),
        (3, 30, 2, 3600, 120),
        (7, 30, 2, 3600, 1920),
        (8, 30, 2, 3600, 3600),  # 3840 capped
        (50, 30, 2, 3600, 3600),
        (5000, 30, 2, 3600, 3600),  # overflow is capped, not raised
        (3, 1, 1, 10, 1),  # constant
        (4, 0.5, 3, 100, 13.5),
    ],
)
def test_exponential_delay_without_jitter(
    attempt: int, base: float, factor: float, maximum: float, expected: float
) -> None:
    assert retry_delay(attempt, base=base, factor=factor, maximum=maximum, jitter=0) == pytest.approx(expected)


@pytest.mark.parametrize(("rng_value", "expected"), [(0.0, 54.0), (0.5, 60.0), (1.0, 66.0)])
def test_jitter_spreads_either_way(rng_value: float, expected: float) -> None:
    delay = retry_delay(2, base=30, factor=2, maximum=3600, jitter=0.1, rng=lambda: rng_value)
    assert delay == pytest.approx(expected)


def test_jitter_never_exceeds_the_cap() -> None:
    assert retry_delay(20, base=30, factor=2, maximum=100, jitter=0.5, rng=lambda: 1.0) == 100


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        retry_delay(0, base=1, factor=2, maximum=10, jitter=0)
