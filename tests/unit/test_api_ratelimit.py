"""Per-token request budgets: a burst, then a steady rate; Retry-After says when to come back."""

from __future__ import annotations

import pytest

from middleware.api.ratelimit import RateLimiter, retry_after


def test_a_burst_then_the_rate_then_429_with_the_wait() -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=3.0)
    assert [limiter.take(1, 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take(1, 0.0)
    assert wait == pytest.approx(0.5) and retry_after(wait) == "1"
    assert limiter.take(2, 0.0) == 0.0  # another token has its own bucket
    assert limiter.take(1, 0.5) == 0.0  # one refilled
    assert limiter.take(1, 0.5) > 0
    assert [limiter.take(1, 10.0) for _ in range(3)] == [0.0] * 3  # never more than the burst


def test_idle_buckets_are_forgotten() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=1.0)
    for key in range(10_001):
        limiter.take(key, float(key))
    assert len(limiter.buckets) < 10


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate_per_s=0)
