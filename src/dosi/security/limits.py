"""Rate limits: a token bucket per API key or user and per tenant, in each worker process. Pure: no I/O."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass
class Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """`rate` requests per second with bursts of `burst`; `retry_after(key)` is 0 when a request may pass.

    Each worker process counts on its own: with N workers a client may reach N times the rate.
    """

    def __init__(self, rate: float, burst: float, clock: object = time.monotonic):
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}

    def retry_after(self, key: str) -> int:
        """Seconds to wait (0: go ahead, and one token is taken)."""
        if self.rate <= 0:
            return 0
        now = self.clock()  # type: ignore[operator]
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) > 100_000:  # forget idle clients rather than grow without bound
                self.buckets.clear()
            bucket = self.buckets[key] = Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
