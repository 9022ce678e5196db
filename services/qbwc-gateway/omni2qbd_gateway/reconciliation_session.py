"""The Web Connector session's part in reconciliation: read QuickBooks when a person asked.

Hooked into ``session.WebConnectorSession`` (marked "reconciliation hook" there) with four calls:
after the approved writes, one set of reconciliation queries per session for the oldest
waiting reading; its answer is stored on the reading; a set that fails whole marks the
reading failed with the reason, so it is never retried forever. A reading whose answer was
lost stays ``sent`` and is simply read again in the next session (the queries write nothing).
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.plan import OutgoingSet, SessionPlan
from omni2qbd_gateway.qbxml_io import ResponseSet
from omni2qbd_gateway.reconciliation_queries import MonthError, read_answers, reconciliation_set
from omni2qbd_gateway.workflow.reconciliation import open_reading, reading_accounts
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.models import utcnow
from omni2qbd_shared.db.reconciliation import ReconciliationSnapshot
from omni2qbd_shared.qbxml.message_set import InvalidRequestSet

PURPOSE = "reconciliation"
ACTOR = "web-connector"


async def has_work(db: AsyncSession, tenant_id: str, plan: SessionPlan) -> bool:
    return (
        not plan.reconciliation_sent
        and await open_reading(db, TenantScope(tenant_id, ACTOR)) is not None
    )


async def next_set(
    db: AsyncSession, tenant_id: str, version: str, plan: SessionPlan
) -> OutgoingSet | None:
    if plan.reconciliation_sent:
        return None
    reading = await open_reading(db, TenantScope(tenant_id, ACTOR))
    if reading is None:
        return None
    plan.reconciliation_sent = True  # one reading per run; another waits for the next run
    try:
        xml = reconciliation_set(
            version, reading.from_month, reading.to_month, reading_accounts(reading)
        )
    except (InvalidRequestSet, MonthError) as exc:
        _fail(db, reading, f"the reconciliation queries could not be built: {exc}")
        return None
    reading.state = "sent"
    db.add(reading)
    return OutgoingSet(PURPOSE, xml, meta={"reading": reading.id})


async def _reading(
    db: AsyncSession, tenant_id: str, meta: dict[str, Any]
) -> ReconciliationSnapshot | None:
    statement = (
        TenantScope(tenant_id, ACTOR)
        .select(ReconciliationSnapshot)
        .where(ReconciliationSnapshot.id == meta.get("reading"))
    )
    return (await db.exec(statement)).first()


async def apply(
    db: AsyncSession, tenant_id: str, meta: dict[str, Any], response: ResponseSet
) -> None:
    reading = await _reading(db, tenant_id, meta)
    if reading is None:
        return
    reading.figures = read_answers(response, reading_accounts(reading))
    reading.state = "answered"
    reading.answered_at = utcnow()
    db.add(reading)


async def failed(db: AsyncSession, tenant_id: str, meta: dict[str, Any], reason: str) -> None:
    reading = await _reading(db, tenant_id, meta)
    if reading is not None:
        _fail(db, reading, reason)


def _fail(db: AsyncSession, reading: ReconciliationSnapshot, reason: str) -> None:
    reading.state = "failed"
    reading.error = reason
    reading.answered_at = utcnow()
    db.add(reading)
