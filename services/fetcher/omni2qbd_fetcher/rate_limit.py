"""Client-side request limits per Cin7 API key (3/s, 60/min, 5,000/day; reference §6.1).

Each limit is a token bucket whose tokens come back one window after they were spent. That is
stricter than a bucket refilled at a steady rate (which allows a burst of ``capacity`` plus a
window's refill), and it is what "never more than N in any window" needs. Windows are widened by
a small margin so that network jitter between our send and Cin7's receipt cannot push two
requests into one of Cin7's windows.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable, Sequence

CIN7_LIMITS: tuple[tuple[int, float], ...] = ((3, 1.0), (60, 60.0), (5000, 86400.0))


class RateLimitWait(Exception):
    """The next free slot is further away than the caller is willing to wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the Cin7 request limit frees a slot in {seconds:.0f} s")
        self.seconds = seconds


class KeyRateLimiter:
    """All request limits of one API key; one instance per key per process."""

    def __init__(
        self,
        limits: Sequence[tuple[int, float]] = CIN7_LIMITS,
        *,
        margin_ratio: float = 0.01,
        margin_seconds: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = [(n, w * (1 + margin_ratio) + margin_seconds) for n, w in limits]
        self._spent: list[deque[float]] = [deque() for _ in self.limits]
        self._blocked_until = 0.0
        self._clock = clock
        self._lock = asyncio.Lock()

    def _wait(self, now: float) -> float:
        wait = self._blocked_until - now
        for (limit, window), spent in zip(self.limits, self._spent, strict=True):
            while spent and spent[0] <= now - window:
                spent.popleft()
            if len(spent) >= limit:
                wait = max(wait, spent[-limit] + window - now)
        return wait

    async def acquire(self, max_wait: float | None = None) -> None:
        """Wait for a slot under every limit and spend it; FIFO among waiters."""
        async with self._lock:
            while True:
                now = self._clock()
                wait = self._wait(now)
                if wait <= 0:
                    for spent in self._spent:
                        spent.append(now)
                    return
                if max_wait is not None and wait > max_wait:
                    raise RateLimitWait(wait)
                await asyncio.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Cin7 said 429: hold every request on this key for ``seconds``."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)


class RateLimiterRegistry:
    """One limiter per API key, so every client of a key in this process shares the budget."""

    def __init__(self, limits: Sequence[tuple[int, float]] = CIN7_LIMITS) -> None:
        self.limits = tuple(limits)
        self._limiters: dict[str, KeyRateLimiter] = {}

    def for_key(self, api_key: str) -> KeyRateLimiter:
        # Keyed by a digest so the secret itself is not kept as a dictionary key.
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        if digest not in self._limiters:
            self._limiters[digest] = KeyRateLimiter(self.limits)
        return self._limiters[digest]
