"""The gateway's queries about sessions, sent sets and credentials, each scoped to a tenant.

A session row is the whole state of a conversation (next call, phase, plan), so any gateway
process can answer any call. The database allows one live session per tenant (a partial
unique index), which is what turns a second Web Connector into ``busy`` even when two logins
race. Tickets are stored as their SHA-256 (migration 0006): the clear ticket exists only in
the Web Connector.

Also the outbox window (the next approved entries), the links a message set needs and the
entries an answer is about. (The list mirror is read and written in ``lists.py``.)
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import case, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.outbox import SENDABLE
from omni2qbd_gateway.plan import CONTACT_KINDS, DocKey, Window, natural_key
from omni2qbd_gateway.reader import LoneReader
from omni2qbd_gateway.states import (
    LIVE_SESSION_STATES,
    NextCall,
    Purpose,
    RequestState,
    SessionState,
)
from omni2qbd_shared import secrets
from omni2qbd_shared.db.models import (
    OutboxItem,
    QbLink,
    QbwcRequest,
    QbwcSession,
    Tenant,
    aware,
    utcnow,
)
from omni2qbd_shared.db.tenancy import scoped

# Argon2 verification takes ~64 MiB and a core for a fraction of a second: more at once than
# there are cores only adds memory, not speed.
_ARGON2_SLOTS = asyncio.Semaphore(max(1, os.cpu_count() or 1))
MAX_TICKET_LENGTH = 64


def ticket_key(ticket: str) -> str:
    """What the database keeps of a ticket: its SHA-256. A ticket is a bearer credential;
    whoever reads the table must not be able to use one."""
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()


async def tenant_by_username(session: AsyncSession, username: str) -> Tenant | None:
    query = select(Tenant).where(Tenant.qbwc_username == username)
    return (await session.exec(query)).one_or_none()


async def verify_tenant_password(tenant: Tenant | None, password: str) -> bool:
    """Argon2 verification, outside any transaction (so it holds no lock while it runs) and
    off the event loop; the same cost for an unknown name (``secrets.verify_password``)."""
    stored_hash = tenant.qbwc_password_hash if tenant is not None else None
    async with _ARGON2_SLOTS:
        ok = await asyncio.to_thread(secrets.verify_password, stored_hash, password)
    return ok and tenant is not None and tenant.active


async def check_credentials(session: AsyncSession, username: str, password: str) -> Tenant | None:
    """The tenant these credentials belong to, or None; same Argon2 cost either way."""
    tenant = await tenant_by_username(session, username)
    return tenant if await verify_tenant_password(tenant, password) else None


async def live_sessions(
    session: AsyncSession, tenant_id: str, *, skip_locked: bool = False
) -> list[QbwcSession]:
    """The tenant's live sessions, locked for this transaction. ``skip_locked``: a session
    whose row another transaction holds (a call in flight) is left out."""
    query = scoped(QbwcSession, tenant_id).where(col(QbwcSession.state).in_(LIVE_SESSION_STATES))
    return list((await session.exec(query.with_for_update(skip_locked=skip_locked))).all())


async def stale_session_tenants(session: AsyncSession, stale_after: timedelta) -> list[str]:
    """Tenants with a live session that stopped calling (maintenance across tenants: only
    the ids; each tenant's sessions are then handled through its scope)."""
    query = select(QbwcSession.tenant_id).where(
        col(QbwcSession.state).in_(LIVE_SESSION_STATES),
        col(QbwcSession.last_seen_at) < utcnow() - stale_after,
    )
    return sorted(set((await session.exec(query)).all()))


@dataclass(frozen=True)
class OpenedSession:
    row: QbwcSession
    ticket: str  # the clear ticket, given to the Web Connector once and never stored


async def open_session(
    session: AsyncSession, tenant: Tenant, plan: dict[str, Any]
) -> OpenedSession | None:
    """A new live session, or None when another one won the race (the database refused)."""
    ticket = secrets.new_ticket()
    row = QbwcSession(
        ticket=ticket_key(ticket),
        tenant_id=tenant.id,
        state=SessionState.AUTHENTICATED.value,
        expected_call=NextCall.SEND.value,
        phase=Purpose.START.value,
        company_path=tenant.qb_company_path,
        plan=plan,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return None
    return OpenedSession(row, ticket)


async def session_by_ticket(session: AsyncSession, ticket: str) -> QbwcSession | None:
    """The session of ``ticket`` (live or not), locked for this transaction."""
    if not ticket or len(ticket) > MAX_TICKET_LENGTH:
        return None
    return await session.get(QbwcSession, ticket_key(ticket), with_for_update=True)


class SessionFacts(Protocol):
    """What liveness is decided on (a loaded row or a ``SessionGlance``)."""

    @property
    def state(self) -> str: ...
    @property
    def expected_call(self) -> str: ...
    @property
    def last_seen_at(self) -> datetime: ...


@dataclass(frozen=True)
class SessionGlance:
    """A session's state read without loading the row (its plan): for the calls that only
    report (getLastError), which the Web Connector makes often."""

    key: str
    tenant_id: str
    state: str
    expected_call: str
    last_seen_at: datetime
    last_error: str | None


async def glance(reader: LoneReader, ticket: str) -> SessionGlance | None:
    """One SELECT, no ORM, no transaction around it (``reader.py``)."""
    if not ticket or len(ticket) > MAX_TICKET_LENGTH:
        return None
    key = ticket_key(ticket)
    found = await reader.session_row(key)
    return None if found is None else SessionGlance(key, *found)


async def advance(
    session: AsyncSession, glanced: SessionGlance, expected: str, now: datetime
) -> None:
    """The session moves on from ``glanced.expected_call`` to ``expected`` (only if no other
    call moved it meanwhile), and counts as seen now."""
    await session.exec(
        update(QbwcSession)
        .where(
            col(QbwcSession.ticket) == glanced.key,
            col(QbwcSession.expected_call) == glanced.expected_call,
        )
        .values(expected_call=expected, last_seen_at=now)
    )


def is_live(row: SessionFacts, stale_after: timedelta) -> bool:
    return row.state in LIVE_SESSION_STATES and (aware(row.last_seen_at) >= utcnow() - stale_after)


async def outstanding_requests(session: AsyncSession, row: QbwcSession) -> list[QbwcRequest]:
    query = scoped(QbwcRequest, row.tenant_id).where(
        QbwcRequest.ticket == row.ticket, QbwcRequest.state == RequestState.SENT.value
    )
    return list((await session.exec(query)).all())


async def in_doubt_sets(session: AsyncSession, tenant_id: str) -> list[QbwcRequest]:
    query = scoped(QbwcRequest, tenant_id).where(
        QbwcRequest.purpose == Purpose.WRITES.value,
        QbwcRequest.state == RequestState.IN_DOUBT.value,
    )
    return list((await session.exec(query.order_by(col(QbwcRequest.id)))).all())


async def sent_set(session: AsyncSession, tenant_id: str, request_id: int) -> QbwcRequest | None:
    row = await session.get(QbwcRequest, request_id)
    return row if row is not None and row.tenant_id == tenant_id else None


# -- the outbox window and the links a message set needs ---------------------------------------


async def links_for(
    session: AsyncSession, tenant_id: str, items: list[OutboxItem]
) -> dict[DocKey, QbLink]:
    """The QuickBooks links of these items' documents (one query, bounded by the items)."""
    if not items:
        return {}
    cin7_ids = sorted({item.cin7_id for item in items})
    query = scoped(QbLink, tenant_id).where(col(QbLink.cin7_id).in_(cin7_ids))
    return {
        (link.entry_kind, link.source_kind, link.cin7_id): link
        for link in (await session.exec(query)).all()
    }


async def links_for_keys(
    session: AsyncSession, tenant_id: str, keys: set[DocKey]
) -> dict[DocKey, QbLink]:
    if not keys:
        return {}
    query = scoped(QbLink, tenant_id).where(col(QbLink.cin7_id).in_(sorted(k[2] for k in keys)))
    return {
        (link.entry_kind, link.source_kind, link.cin7_id): link
        for link in (await session.exec(query)).all()
        if (link.entry_kind, link.source_kind, link.cin7_id) in keys
    }


async def approved_keys(session: AsyncSession, tenant_id: str, keys: set[DocKey]) -> set[DocKey]:
    """Which of these documents have an approved (or sent) entry waiting to be posted."""
    if not keys:
        return set()
    query = scoped(OutboxItem, tenant_id).where(
        col(OutboxItem.cin7_id).in_(sorted(k[2] for k in keys)),
        col(OutboxItem.state).in_(("approved", "queued", "sent", "in_doubt")),
    )
    return {natural_key(item) for item in (await session.exec(query)).all()} & keys


def _contacts_first() -> Any:
    return case((col(OutboxItem.entry_kind).in_(CONTACT_KINDS), 0), else_=1)


async def in_flight_keys(session: AsyncSession, tenant_id: str) -> set[DocKey]:
    # Only the key columns: the JSON bodies of what is in flight are not needed here.
    query = select(OutboxItem.entry_kind, OutboxItem.source_kind, OutboxItem.cin7_id).where(
        OutboxItem.tenant_id == tenant_id, col(OutboxItem.state).in_(("sent", "in_doubt"))
    )
    return {(kind, source, cin7) for kind, source, cin7 in (await session.exec(query)).all()}


async def items_of(session: AsyncSession, tenant_id: str, entry_ids: list[str]) -> list[OutboxItem]:
    """These entries of this tenant (one query), in the order given."""
    if not entry_ids:
        return []
    query = scoped(OutboxItem, tenant_id).where(col(OutboxItem.entry_id).in_(entry_ids))
    found = {item.entry_id: item for item in (await session.exec(query)).all()}
    return [found[entry_id] for entry_id in entry_ids if entry_id in found]


async def load_window(
    session: AsyncSession, tenant_id: str, deferred: list[str], size: int
) -> Window:
    """At most ``size`` approved entries. A newer version waits while the older one's fate in
    QuickBooks is unknown (in flight)."""
    in_flight = await in_flight_keys(session, tenant_id)
    query = scoped(OutboxItem, tenant_id).where(col(OutboxItem.state).in_(SENDABLE))
    if deferred:
        query = query.where(col(OutboxItem.entry_id).not_in(deferred))
    query = query.order_by(_contacts_first(), col(OutboxItem.approved_at), col(OutboxItem.entry_id))
    fetched = list((await session.exec(query.limit(size + len(in_flight) + 1))).all())
    rows = [row for row in fetched if natural_key(row) not in in_flight]
    complete = len(fetched) <= size + len(in_flight)
    items = rows[:size]
    return Window(items, await links_for(session, tenant_id, items), complete)


async def sendable_count(session: AsyncSession, tenant_id: str, deferred: list[str]) -> int:
    query = scoped(OutboxItem, tenant_id).where(col(OutboxItem.state).in_(SENDABLE))
    if deferred:
        query = query.where(col(OutboxItem.entry_id).not_in(deferred))
    counted = select(func.count()).select_from(query.subquery())
    return int((await session.exec(counted)).one())
