"""What the Connect screens show: the saved Cin7 connection, and what the Web Connector's
first run brought (company file, QuickBooks product and version, lists received)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.console.run_progress import OUTCOME_WORDS
from omni2qbd_gateway.lists import LIST_SPECS, cursors
from omni2qbd_gateway.workflow.health import tenant_health
from omni2qbd_shared.db.models import Cin7Credential, QbListItem, QbwcSession, Tenant, aware

LIST_WORDS = {
    "customer": "Customers",
    "vendor": "Vendors",
    "item": "Items",
    "account": "Accounts",
    "class": "Classes",
    "terms": "Payment terms",
    "sales_tax_item": "Sales tax items",
    "sales_tax_code": "Sales tax codes",
    "employee": "Employees",
    "other_name": "Other names",
}


@dataclass(frozen=True)
class Cin7Summary:
    username: str
    base_url: str
    updated_at: datetime


async def cin7_summary(db: AsyncSession, tenant_id: str) -> Cin7Summary | None:
    row = await db.get(Cin7Credential, tenant_id)
    if row is None:
        return None
    return Cin7Summary(row.username, row.base_url, aware(row.updated_at))


@dataclass(frozen=True)
class ListReceived:
    label: str
    count: int


@dataclass(frozen=True)
class FirstRun:
    ran: bool
    complete: bool
    company_file: str | None = None
    qbxml_version: str | None = None
    product: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    problem: str | None = None
    lists: list[ListReceived] = field(default_factory=list)


async def first_run(db: AsyncSession, tenant: Tenant) -> FirstRun:
    """The latest Web Connector session and the lists it read into the mirror."""
    session = (
        await db.exec(
            select(QbwcSession)
            .where(QbwcSession.tenant_id == tenant.id)
            .order_by(col(QbwcSession.created_at).desc())
            .limit(1)
        )
    ).first()
    if session is None:
        return FirstRun(ran=False, complete=False)
    counts = dict(
        (
            await db.exec(
                select(QbListItem.list_type, func.count())
                .where(QbListItem.tenant_id == tenant.id)
                .group_by(col(QbListItem.list_type))
            )
        ).all()
    )
    read = await cursors(db, tenant.id)
    lists = [
        ListReceived(
            LIST_WORDS.get(spec.list_type, spec.list_type.replace("_", " ").capitalize()),
            int(counts.get(spec.list_type, 0)),
        )
        for spec in LIST_SPECS
        if spec.list_type in read
    ]
    ended = session.state in ("closed", "expired", "failed")
    quickbooks = (await tenant_health(db, tenant)).quickbooks
    product = " ".join(
        part
        for part in (
            quickbooks.product,
            quickbooks.version,
            quickbooks.country and f"({quickbooks.country})",
        )
        if part
    )
    return FirstRun(
        ran=True,
        complete=ended and len(read) >= len(LIST_SPECS),
        company_file=quickbooks.company_file,
        qbxml_version=quickbooks.qbxml_version,
        product=product or None,
        started_at=aware(session.created_at),
        ended_at=aware(session.ended_at) if session.ended_at else None,
        outcome=OUTCOME_WORDS.get(session.state, session.state),
        problem=session.last_error,
        lists=lists,
    )
