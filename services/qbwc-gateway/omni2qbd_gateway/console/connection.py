"""What the Connect screens show: the Cin7 connection, tested in words, and what the Web
Connector's first run brought (company file, qbXML version, lists received)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_fetcher.cin7_client import (
    Cin7AuthError,
    Cin7Client,
    Cin7Error,
    RetryPolicy,
)
from omni2qbd_gateway.lists import LIST_SPECS, cursors
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
}


@dataclass(frozen=True)
class Cin7Check:
    ok: bool
    message: str


@dataclass(frozen=True)
class Cin7Summary:
    username: str
    base_url: str
    updated_at: datetime


async def test_cin7(tenant_name: str, username: str, api_key: str, base_url: str) -> Cin7Check:
    """One small read from Cin7 Omni with these credentials, the outcome in words."""
    retry = RetryPolicy(attempts=2, base_delay=0.5, max_delay=2.0)
    try:
        async with Cin7Client(
            tenant=tenant_name,
            username=username,
            api_key=api_key,
            base_url=base_url,
            retry=retry,
            timeout=15.0,
            max_limiter_wait=10.0,
        ) as client:
            rows = await client.list_page("Contacts", rows=1, fields="id")
    except Cin7AuthError as exc:
        if exc.status == 401:
            return Cin7Check(
                False,
                "Cin7 Omni did not accept this API user name and key. Copy both from Cin7 Omni "
                "(Settings > Integrations & API > API v1) and try again.",
            )
        return Cin7Check(
            False,
            "The key works, but this API connection may not read contacts. In Cin7 Omni, "
            "edit the API connection and allow Read on Contacts, Sales Orders, Purchase "
            "Orders, Credit Notes, Products and Stock.",
        )
    except (Cin7Error, httpx.HTTPError, ValueError) as exc:
        return Cin7Check(False, f"Cin7 Omni could not be reached at {base_url}: {exc}")
    found = "found contacts" if rows else "the account has no contacts yet"
    return Cin7Check(True, f"Connected to Cin7 Omni as {username}: the key works ({found}).")


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
            LIST_WORDS.get(spec.list_type, spec.list_type), int(counts.get(spec.list_type, 0))
        )
        for spec in LIST_SPECS
        if spec.list_type in read
    ]
    ended = session.state in ("closed", "expired", "failed")
    return FirstRun(
        ran=True,
        complete=ended and len(read) >= len(LIST_SPECS),
        company_file=session.company_path or tenant.qb_company_path,
        qbxml_version=session.qbxml_version,
        started_at=aware(session.created_at),
        ended_at=aware(session.ended_at) if session.ended_at else None,
        outcome={
            "authenticated": "running",
            "working": "running",
            "closed": "finished",
            "expired": "stopped without finishing",
            "failed": "stopped with a problem",
        }.get(session.state, session.state),
        problem=session.last_error,
        lists=lists,
    )
