"""Per-tenant fairness on the shared work queues.

Every work queue is a RabbitMQ priority queue. A publisher gives a tenant's messages high
priority while that tenant has published little recently, and low priority once it floods
(an initial sync of a large account, or a broken Cin7 paging without end). The broker
delivers high-priority messages first, so a quiet tenant's change overtakes a flood queued
before it instead of waiting behind all of it; the flood is still handled, in order, as
soon as nothing more urgent is waiting.

Counting is per publishing process, which is enough: a flood comes from one tenant's sync,
and one sync runs in one process.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

MAX_PRIORITY = 2
HIGH_PRIORITY = 2
LOW_PRIORITY = 0


@dataclass
class TenantShare:
    """Decides each message's priority from how many its tenant published in ``window``."""

    burst: int = 500
    window_seconds: float = 60.0
    _sent: dict[str, deque[float]] = field(default_factory=dict)

    def priority(self, tenant_id: str | None, now: float | None = None) -> int:
        if tenant_id is None:
            return HIGH_PRIORITY
        moment = time.monotonic() if now is None else now
        sent = self._sent.setdefault(tenant_id, deque())
        while sent and moment - sent[0] > self.window_seconds:
            sent.popleft()
        if len(sent) >= self.burst:
            # Past its share: not recorded, so the tenant regains high priority once its
            # recent burst has aged out of the window, flood or not.
            return LOW_PRIORITY
        sent.append(moment)
        return HIGH_PRIORITY
