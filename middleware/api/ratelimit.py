"""Requests per API token: a token bucket each (pure; time is a parameter).

A token may send ``burst`` requests at once and ``rate_per_s`` a second after that; past it the
answer is 429 with Retry-After, before any database work is done for the request. Buckets of tokens
idle long enough to be full again are dropped, so memory follows the tokens in use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    rate_per_s: float = 20.0
    burst: float = 40.0
    buckets: dict[int, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or self.burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")

    def take(self, key: int, now: float) -> float:
        """0 when the request may go ahead (one token spent), else the seconds until it may."""
        tokens, at = self.buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
        if tokens < 1:
            self.buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate_per_s
        self.buckets[key] = (tokens - 1, now)
        if len(self.buckets) > 10_000:
            self._forget_full(now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        full_after = self.burst / self.rate_per_s
        for key in [k for k, (_, at) in self.buckets.items() if now - at >= full_after]:
            del self.buckets[key]


def retry_after(wait_s: float) -> str:
    """The Retry-After header: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait_s)))
