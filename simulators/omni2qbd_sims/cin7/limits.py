"""Per-API-key request limits of the simulated Cin7 Omni API (reference §6)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# (requests, window seconds): 3 per second, 60 per minute, 5,000 per day.
DEFAULT_LIMITS: tuple[tuple[int, float], ...] = ((3, 1.0), (60, 60.0), (5000, 86400.0))


@dataclass
class KeyUsage:
    windows: list[deque[float]]
    accepted: int = 0
    throttled: int = 0


@dataclass
class RateLimiter:
    """Sliding windows: a request is refused when any window already holds its limit.

    Refused requests do not count, so a client that backs off recovers. The real API's exact
    accounting is not documented; sliding windows are the strictest reading of "3 per second".
    """

    limits: Sequence[tuple[int, float]] = DEFAULT_LIMITS
    enabled: bool = True
    clock: Callable[[], float] = time.monotonic
    usage: dict[str, KeyUsage] = field(default_factory=dict)

    def _usage(self, key: str) -> KeyUsage:
        if key not in self.usage:
            self.usage[key] = KeyUsage([deque() for _ in self.limits])
        return self.usage[key]

    def try_acquire(self, key: str) -> float | None:
        """Count one request; None if allowed, else the seconds until a slot frees up."""
        usage = self._usage(key)
        if not self.enabled:
            usage.accepted += 1
            return None
        now = self.clock()
        wait = 0.0
        for (limit, window), stamps in zip(self.limits, usage.windows, strict=True):
            while stamps and stamps[0] <= now - window:
                stamps.popleft()
            if len(stamps) >= limit:
                wait = max(wait, stamps[0] + window - now)
        if wait > 0:
            usage.throttled += 1
            return wait
        for stamps in usage.windows:
            stamps.append(now)
        usage.accepted += 1
        return None

    def configure(self, limits: Sequence[tuple[int, float]] | None, enabled: bool | None) -> None:
        if limits is not None:
            self.limits = tuple((int(n), float(s)) for n, s in limits)
            self.usage.clear()
        if enabled is not None:
            self.enabled = enabled

    def reset(self) -> None:
        self.usage.clear()
