"""Requests per second per workspace: a token bucket each, as the guide describes the hosted limit.

A bucket holds up to `rate × burst_seconds` tokens (the guide: a burst multiplier of 5 seconds),
refills at `rate` tokens a second, and every request takes one; a request finding less than one
is refused (429) with the seconds until a token is back. Each edge keeps its own buckets: with
several edges behind a balancer each enforces the full budget on the traffic it sees (see README,
"Rate limits"). Pure and clocked from outside, so it is tested without sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

BURST_SECONDS = 5.0
# Workspaces come from Host headers, which clients choose: the table of buckets is bounded.
MAX_BUCKETS = 10_000


class RateLimiter:
    def __init__(
        self,
        rate: float,
        *,
        burst_seconds: float = BURST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"a rate limit must be positive, not {rate}")
        self.rate = rate
        self.capacity = max(1.0, rate * burst_seconds)
        self._clock = clock
        self._max = max_buckets
        # key -> [tokens, time of the last update]; a list, not an object: this runs per request.
        self._buckets: dict[str, list[float]] = {}

    def take(self, key: str) -> float:
        """0.0 when a request of `key` may pass now (it takes a token); otherwise the seconds until
        one may, and nothing is taken."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max:
                self._prune(now)
            self._buckets[key] = [self.capacity - 1.0, now]
            return 0.0
        tokens = min(self.capacity, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def waiting(self, key: str) -> float:
        """The seconds until `key` may take a token (0.0: now), without taking one."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(self.capacity, bucket[0] + (self._clock() - bucket[1]) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forgets buckets that have refilled (the same as no bucket), then the oldest if needed."""
        for key, (tokens, stamp) in list(self._buckets.items()):
            if tokens + (now - stamp) * self.rate >= self.capacity:
                del self._buckets[key]
        while len(self._buckets) >= self._max:
            del self._buckets[next(iter(self._buckets))]


def retry_after(wait: float) -> str:
    """The Retry-After header value for a wait in seconds: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))
