"""Per-tenant fairness on the shared work queues, across any number of tenants.

Every work queue is a RabbitMQ priority queue with ``MAX_PRIORITY + 1`` levels. A publisher
gives each message of a tenant a priority from how many messages that tenant published
recently (in ``window_seconds``): the first ``burst`` get the top priority, the next
``2 * burst`` one level less, the next ``4 * burst`` one less again, and so on down to 0.

The broker delivers higher levels first and each level in publish order, so the queue is
served in rounds: every tenant's first ``burst`` documents before any tenant's next ones,
then every tenant's next ``2 * burst``, and so on. That is an approximate round-robin over
tenants done by the broker over the *whole* queued backlog:

* one tenant's flood (an initial sync of a large account, a Cin7 paging without end) puts at
  most ``burst`` messages per window ahead of a quiet tenant's change, which has the top
  priority; the rest of the flood is handled in order once nothing more urgent waits;
* N tenants each with a backlog (the 100-tenant initial sync of the soak) no longer go
  through the mapper in the order the fetcher read them: each tenant has documents mapped in
  the first round, before any tenant's whole backlog is done.

Why not the alternatives: a mapper that reads ahead and serves tenants round-robin sees only
its prefetch window (tens of messages) of a backlog of thousands, so it is fair only within
that window; smaller fetcher slices still queue in the order the fetcher reads (and cost Cin7
requests under its rate limits); a queue per tenant changes the topology, dead-letter and
retry plumbing of every service. Priorities need none of that and keep ack-after-commit and
the dead-letter rules as they are (a retried message keeps its priority).

Levels double in size so ten levels cover floods of about ``500 * burst`` messages, and
RabbitMQ advises few levels (each is a sub-queue). A queue declared by an older version with
fewer levels keeps working: the broker caps a priority at the queue's maximum.

Counting is per publishing process, which is enough: a tenant's sync runs in one fetcher at
a time (a lease), and the mapper's entries follow its documents.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

MAX_PRIORITY = 9
HIGH_PRIORITY = MAX_PRIORITY
LOW_PRIORITY = 0


def level_of(recent: int, burst: int) -> int:
    """How many levels below the top a tenant's next message goes, having sent ``recent``.

    Level k holds the messages numbered ``burst * (2^k - 1)`` up to ``burst * (2^(k+1) - 1)``.
    """
    return min(MAX_PRIORITY, (recent // max(1, burst) + 1).bit_length() - 1)


@dataclass
class TenantShare:
    """Decides each message's priority from how many its tenant published in ``window``."""

    burst: int = 20
    window_seconds: float = 60.0
    # Per tenant: (whole second, messages published in it), oldest first, and their sum; at
    # most ``window_seconds`` entries per tenant however much it publishes.
    _sent: dict[str, deque[list[int]]] = field(default_factory=dict)
    _recent: dict[str, int] = field(default_factory=dict)

    def priority(self, tenant_id: str | None, now: float | None = None) -> int:
        if tenant_id is None:
            return HIGH_PRIORITY
        moment = time.monotonic() if now is None else now
        second = math.floor(moment)
        sent = self._sent.setdefault(tenant_id, deque())
        recent = self._recent.get(tenant_id, 0)
        while sent and moment - sent[0][0] > self.window_seconds:
            recent -= sent.popleft()[1]
        priority = MAX_PRIORITY - level_of(recent, self.burst)
        if sent and sent[-1][0] == second:
            sent[-1][1] += 1
        else:
            sent.append([second, 1])
        self._recent[tenant_id] = recent + 1
        return priority
