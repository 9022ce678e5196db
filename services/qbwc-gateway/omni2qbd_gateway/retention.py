"""Retention of the qbXML exchanged with the Web Connector (``qbwc_requests``).

Each row holds a whole qbXML request and response in clear: customer names, amounts and
addresses. They help to investigate recent sessions, so they are kept
``OMNI2QBD_GATEWAY_REQUEST_RETENTION_DAYS`` days (0 keeps them forever) and then deleted. What
must be kept is elsewhere: the QuickBooks links (TxnID, EditSequence) in ``qb_links``, the
outcome of every entry in ``outbox`` and who did what in ``audit_log``, which also records
each sweep. A request whose outcome is still open (``sent``, ``in_doubt``) is never deleted:
the gateway needs it to resolve the write before anything else is sent.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import AuditLog, QbwcRequest, utcnow

log = structlog.get_logger(__name__)
SETTLED = ("answered", "failed", "resolved")
# Rows deleted per transaction: short write transactions keep SQLite's other writers moving.
BATCH = 500


async def sweep_requests(sessions: async_sessionmaker[AsyncSession], retention_days: int) -> int:
    """Delete settled requests older than the retention; returns how many went."""
    if retention_days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=retention_days)
    total = 0
    while True:
        async with unit_of_work(sessions) as session:
            batch = (
                await session.exec(
                    select(QbwcRequest.id)
                    .where(
                        col(QbwcRequest.sent_at) < cutoff,
                        col(QbwcRequest.state).in_(SETTLED),
                    )
                    .limit(BATCH)
                )
            ).all()
            if batch:
                await session.exec(delete(QbwcRequest).where(col(QbwcRequest.id).in_(batch)))
        total += len(batch)
        if len(batch) < BATCH:
            break
    if total:
        async with unit_of_work(sessions) as session:
            session.add(
                AuditLog(
                    actor="gateway",
                    action="qbwc_requests_swept",
                    detail={"deleted": total, "older_than": cutoff.isoformat()},
                )
            )
        log.info("qbwc_requests_swept", deleted=total, retention_days=retention_days)
    return total
