"""Live progress of a tenant's Web Connector run: how many entries went out in this session,
how many QuickBooks accepted and refused, how many approved ones still wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.models import OutboxItem, QbwcSession, aware
from omni2qbd_shared.db.tenancy import scoped

_WAITING = ("approved", "queued")
OUTCOME_WORDS = {
    "authenticated": "running",
    "working": "running",
    "closed": "finished",
    "expired": "stopped without finishing",
    "failed": "stopped with a problem",
}


@dataclass(frozen=True)
class LastRun:
    started_at: datetime
    ended_at: datetime | None
    outcome: str


@dataclass(frozen=True)
class RunProgress:
    running: bool
    sent: int = 0
    posted: int = 0
    failed: int = 0
    waiting: int = 0
    percent: int = 0
    last_run: LastRun | None = None

    @property
    def polling(self) -> bool:
        """Keep asking while a run is on or approved entries wait for one."""
        return self.running or self.waiting > 0


async def run_progress(db: AsyncSession, tenant_id: str) -> RunProgress:
    latest = (
        await db.exec(
            scoped(QbwcSession, tenant_id).order_by(col(QbwcSession.created_at).desc()).limit(1)
        )
    ).first()
    since_rows = select(OutboxItem.state, func.count()).where(OutboxItem.tenant_id == tenant_id)
    if latest is not None:
        since_rows = since_rows.where(col(OutboxItem.updated_at) >= latest.created_at)
    waiting_rows = (
        await db.exec(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.tenant_id == tenant_id, col(OutboxItem.state).in_(_WAITING))
        )
    ).one()
    waiting = int(waiting_rows)
    if latest is None:
        return RunProgress(running=False, waiting=waiting)
    last = LastRun(
        aware(latest.created_at),
        aware(latest.ended_at) if latest.ended_at else None,
        OUTCOME_WORDS.get(latest.state, latest.state),
    )
    if latest.state not in ("authenticated", "working"):
        return RunProgress(running=False, waiting=waiting, last_run=last)
    counts = dict((await db.exec(since_rows.group_by(col(OutboxItem.state)))).all())
    posted = int(counts.get("posted", 0))
    failed = int(counts.get("failed", 0)) + int(counts.get("locked", 0))
    sent = posted + failed + int(counts.get("sent", 0)) + int(counts.get("in_doubt", 0))
    return RunProgress(
        running=True,
        sent=sent,
        posted=posted,
        failed=failed,
        waiting=waiting,
        percent=max(1, min(99, latest.progress or 0)),
        last_run=last,
    )
