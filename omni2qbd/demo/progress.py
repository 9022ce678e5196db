"""What the demo reads from the database to show progress and to know when work settled."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel, col, select
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
from omni2qbd_shared.kinds import EntryState, review_state

# Outbox states of approved entries not yet in QuickBooks.
WAITING_TO_SEND = (EntryState.APPROVED, EntryState.QUEUED, EntryState.SENT)


@dataclass(frozen=True)
class Snapshot:
    fetched: Counter[str] = field(default_factory=Counter)
    entries: Counter[str] = field(default_factory=Counter)
    outbox: Counter[str] = field(default_factory=Counter)
    kinds_synced_since: int = 0

    def line(self) -> str:
        fetched = sum(self.fetched.values())
        posted = self.outbox.get(EntryState.POSTED, 0)
        # Mapper states, counted as the gateway will hold them.
        held = sum(n for state, n in self.entries.items() if review_state(state) is EntryState.HELD)
        waiting = sum(self.outbox.get(s, 0) for s in WAITING_TO_SEND)
        return (
            f"fetched {fetched} documents | mapped {sum(self.entries.values())} entries "
            f"({held} held) | waiting to send {waiting} | posted {posted}"
        )


async def snapshot(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, since: datetime | None = None
) -> Snapshot:
    # Only reads: on SQLite it must not take the write lock the services need. Counted by the
    # database: the demo asks twice a second, and loading every document and entry (payloads
    # and bodies included) each time cost more CPU than a service at a tenant's volume.
    async with unit_of_work(sessions, read_only=True) as session:
        fetched = await _count_by(session, FetchedDocument, FetchedDocument.kind, tenant_id)
        entries = await _count_by(session, Entry, Entry.state, tenant_id)
        outbox = await _count_by(session, OutboxItem, OutboxItem.state, tenant_id)
        synced = 0
        if since is not None:
            for status in (await session.exec(scoped(SyncStatus, tenant_id))).all():
                if status.last_success_at is not None and aware(status.last_success_at) >= since:
                    synced += 1
    return Snapshot(fetched, entries, outbox, synced)


async def _count_by(
    session: AsyncSession, model: type[SQLModel], column: Any, tenant_id: str
) -> Counter[str]:
    statement = (
        select(column, func.count())
        .select_from(model)
        .where(col(model.tenant_id) == tenant_id)  # type: ignore[attr-defined]
        .group_by(column)
    )
    return Counter({str(value): int(count) for value, count in (await session.exec(statement))})
