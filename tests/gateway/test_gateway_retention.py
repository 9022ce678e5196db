"""qbwc_requests are kept for the retention period, never while their outcome is open."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.retention import sweep_requests
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import AuditLog, QbwcRequest, Tenant, utcnow


async def test_old_settled_requests_go_open_and_recent_ones_stay(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tenant_id = str(uuid.uuid4())
    old, recent = utcnow() - timedelta(days=40), utcnow() - timedelta(days=2)
    async with unit_of_work(sessions) as session:
        session.add(Tenant(id=tenant_id, name="A", qbwc_username="a", qbwc_password_hash="x"))
        await session.flush()
        for sent_at, state in [
            (old, "answered"),
            (old, "failed"),
            (old, "resolved"),
            (old, "in_doubt"),  # still needed to resolve the write
            (old, "sent"),
            (recent, "answered"),
        ]:
            session.add(
                QbwcRequest(
                    tenant_id=tenant_id,
                    ticket="t",
                    purpose="writes",
                    state=state,
                    request_xml="<QBXML>customer names and amounts</QBXML>",
                    sent_at=sent_at,
                )
            )
    assert await sweep_requests(sessions, retention_days=30) == 3
    assert await sweep_requests(sessions, retention_days=30) == 0
    assert await sweep_requests(sessions, retention_days=0) == 0  # 0 keeps them forever
    async with sessions() as session:
        left = (await session.exec(select(QbwcRequest.state).order_by(col(QbwcRequest.id)))).all()
        swept = (
            await session.exec(select(AuditLog).where(AuditLog.action == "qbwc_requests_swept"))
        ).all()
    assert left == ["in_doubt", "sent", "answered"]
    assert [row.detail["deleted"] for row in swept] == [3]
