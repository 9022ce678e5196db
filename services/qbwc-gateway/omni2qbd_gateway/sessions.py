"""Web Connector sessions in the database: login, tickets, liveness and ending.

A session row is the whole state of a conversation (expected next call, phase, plan), so
any gateway process can answer any call. The database allows one live session per tenant
(a partial unique index), which is what turns a second Web Connector into ``busy`` even
when two logins race.

Login failures are counted per user name: after ``FREE_ATTEMPTS`` failures every attempt for
that name waits (doubling, capped), so guessing passwords is slow, while the verification
itself costs the same for known and unknown names (``secrets.verify_password``).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared import secrets
from omni2qbd_shared.db.models import (
    AuthFailure,
    QbwcRequest,
    QbwcSession,
    Tenant,
    aware,
    utcnow,
)
from omni2qbd_shared.db.tenancy import scoped

LIVE_STATES = ("authenticated", "working")
# Argon2 verification takes ~64 MiB and a core for a fraction of a second: more at once than
# there are cores only adds memory, not speed.
_ARGON2_SLOTS = asyncio.Semaphore(max(1, os.cpu_count() or 1))
FREE_ATTEMPTS = 3
MAX_DELAY_SECONDS = 8.0


def failure_delay(failures: int) -> float:
    """Seconds to wait before answering a login for a name with ``failures`` recent misses."""
    if failures < FREE_ATTEMPTS:
        return 0.0
    return float(min(MAX_DELAY_SECONDS, 0.25 * 2 ** (failures - FREE_ATTEMPTS)))


async def recent_failures(session: AsyncSession, username: str, window: timedelta) -> int:
    row = await session.get(AuthFailure, username[:100])
    if row is None or aware(row.last_failure_at) < utcnow() - window:
        return 0
    return row.failures


async def record_failure(session: AsyncSession, username: str, window: timedelta) -> None:
    row = await session.get(AuthFailure, username[:100])
    now = utcnow()
    if row is None:
        row = AuthFailure(username=username[:100], failures=0, last_failure_at=now)
    elif aware(row.last_failure_at) < now - window:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    session.add(row)


async def clear_failures(session: AsyncSession, username: str) -> None:
    row = await session.get(AuthFailure, username[:100])
    if row is not None:
        await session.delete(row)


async def check_credentials(session: AsyncSession, username: str, password: str) -> Tenant | None:
    """The tenant these credentials belong to, or None; same Argon2 cost either way."""
    tenant = (
        await session.exec(select(Tenant).where(Tenant.qbwc_username == username))
    ).one_or_none()
    stored_hash = tenant.qbwc_password_hash if tenant is not None else None
    # Argon2 is CPU work: off the event loop, so other Web Connectors are not stalled.
    async with _ARGON2_SLOTS:
        ok = await asyncio.to_thread(secrets.verify_password, stored_hash, password)
    if not ok or tenant is None or not tenant.active:
        return None
    return tenant


@dataclass(frozen=True)
class LiveCheck:
    busy: bool
    ended: list[QbwcSession]


async def end_stale_sessions(
    session: AsyncSession, tenant_id: str, stale_after: timedelta, *, only_stale: bool = False
) -> LiveCheck:
    """Expire this tenant's sessions that stopped talking; report whether one is still live.

    A live session whose only missing call is ``closeConnection`` is dropped as the
    programmer's guide allows (reference §1.3): the Web Connector has moved on.
    """
    now = utcnow()
    query = scoped(QbwcSession, tenant_id).where(col(QbwcSession.state).in_(LIVE_STATES))
    ended: list[QbwcSession] = []
    busy = False
    for row in (await session.exec(query.with_for_update())).all():
        stale = aware(row.last_seen_at) < now - stale_after
        if stale or (row.expected_call == "closeConnection" and not only_stale):
            row.state = "expired" if stale else "closed"
            row.ended_at = now
            row.last_error = row.last_error or (
                "The Web Connector stopped calling; the session expired."
                if stale
                else "closed when the Web Connector started a new session"
            )
            session.add(row)
            ended.append(row)
        else:
            busy = True
    return LiveCheck(busy, ended)


async def open_session(
    session: AsyncSession, tenant: Tenant, plan: dict[str, Any]
) -> QbwcSession | None:
    """A new live session, or None when another one won the race (the database refused)."""
    row = QbwcSession(
        ticket=secrets.new_ticket(),
        tenant_id=tenant.id,
        state="authenticated",
        expected_call="sendRequestXML",
        phase="start",
        company_path=tenant.qb_company_path,
        plan=plan,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return None
    return row


async def outstanding_requests(session: AsyncSession, row: QbwcSession) -> list[QbwcRequest]:
    query = scoped(QbwcRequest, row.tenant_id).where(
        QbwcRequest.ticket == row.ticket, QbwcRequest.state == "sent"
    )
    return list((await session.exec(query)).all())


async def live_session(
    session: AsyncSession, ticket: str, stale_after: timedelta
) -> QbwcSession | None:
    """The session for ``ticket`` if it is still live (tickets are the only key we accept)."""
    if not ticket or len(ticket) > 64:
        return None
    row = await session.get(QbwcSession, ticket, with_for_update=True)
    if row is None or row.state not in LIVE_STATES:
        return None
    if aware(row.last_seen_at) < utcnow() - stale_after:
        return None
    return row


async def any_session(session: AsyncSession, ticket: str) -> QbwcSession | None:
    if not ticket or len(ticket) > 64:
        return None
    return await session.get(QbwcSession, ticket)


def touch(row: QbwcSession) -> None:
    row.last_seen_at = utcnow()


def finish(row: QbwcSession, state: str, error: str | None = None) -> None:
    row.state = state
    row.ended_at = utcnow()
    row.expected_call = "closeConnection" if state in LIVE_STATES else row.expected_call
    if error:
        row.last_error = error
