"""What the demo reads from the database to show progress and to know when work settled."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import (
    Entry,
    FetchedDocument,
    OutboxItem,
    SyncStatus,
    aware,
)
from omni2qbd_shared.db.tenancy import scoped

KIND_WORDS = {
    "sales_order": "sales orders",
    "purchase_order": "purchase orders",
    "credit_note": "credit notes",
    "supplier_credit_note": "supplier credit notes",
    "stock_adjustment": "stock adjustments",
    "contact": "contacts",
    "product": "products",
}


@dataclass(frozen=True)
class Snapshot:
    fetched: Counter[str] = field(default_factory=Counter)
    entries: Counter[str] = field(default_factory=Counter)
    outbox: Counter[str] = field(default_factory=Counter)
    kinds_synced_since: int = 0

    def line(self) -> str:
        fetched = sum(self.fetched.values())
        posted = self.outbox.get("posted", 0)
        held = self.entries.get("needs_attention", 0)
        waiting = sum(self.outbox.get(s, 0) for s in ("approved", "queued", "sent"))
        return (
            f"fetched {fetched} documents | mapped {sum(self.entries.values())} entries "
            f"({held} held) | waiting to send {waiting} | posted {posted}"
        )


async def snapshot(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, since: datetime | None = None
) -> Snapshot:
    # Only reads: on SQLite it must not take the write lock the services need.
    async with unit_of_work(sessions, read_only=True) as session:
        fetched: Counter[str] = Counter()
        for doc in (await session.exec(scoped(FetchedDocument, tenant_id))).all():
            fetched[doc.kind] += 1
        entries: Counter[str] = Counter(
            e.state for e in (await session.exec(scoped(Entry, tenant_id))).all()
        )
        outbox: Counter[str] = Counter(
            o.state for o in (await session.exec(scoped(OutboxItem, tenant_id))).all()
        )
        synced = 0
        if since is not None:
            for status in (await session.exec(scoped(SyncStatus, tenant_id))).all():
                if status.last_success_at is not None and aware(status.last_success_at) >= since:
                    synced += 1
    return Snapshot(fetched, entries, outbox, synced)
