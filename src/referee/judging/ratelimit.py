"""Token bucket for requests-per-minute and tokens-per-minute limits (asyncio)."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """``per_minute`` units refilled continuously; holds at most ``burst`` (default: one second's worth).

    ``acquire(n)`` waits until ``n`` units are there (or the bucket is full, for an ``n`` larger
    than it holds) and takes them; ``charge(n)`` corrects an estimate afterwards (negative: refund),
    so the level may go below zero and later callers wait it off.  Waiters are served in order.
    """

    def __init__(self, per_minute: float, burst: float | None = None) -> None:
        if per_minute <= 0:
            raise ValueError(f"rate limit must be positive, got {per_minute}")
        self.rate = per_minute / 60.0
        self.capacity = float(burst) if burst else max(1.0, self.rate)
        self.level = self.capacity
        self._t = time.monotonic()
        self._lock: asyncio.Lock | None = None

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._t) * self.rate)
        self._t = now

    async def acquire(self, amount: float = 1.0) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            need = min(amount, self.capacity)
            while True:
                self._refill()
                if self.level >= need:
                    self.level -= amount
                    return
                await asyncio.sleep((need - self.level) / self.rate)

    def charge(self, amount: float) -> None:
        self._refill()
        self.level = min(self.capacity, self.level - amount)
