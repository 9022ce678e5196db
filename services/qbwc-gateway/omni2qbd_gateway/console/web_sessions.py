"""Console sign-in sessions: a random token in a cookie, its hash in the database.

A session ends at the first of: sign out (revoked), its absolute lifetime, or a stretch of
inactivity. ``last_seen_at`` is written at most once a minute so reading pages does not turn
every request into a database write.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.console_sessions import ConsoleSession
from omni2qbd_shared.db.models import aware, utcnow

COOKIE_NAME = "omni2qbd_console"
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    lifetime: timedelta
    idle: timedelta


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(
    db: AsyncSession, user_id: str, policy: SessionPolicy, address: str | None
) -> tuple[str, ConsoleSession]:
    """A new session for a signed-in user; the token goes into the cookie, never the database."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = ConsoleSession(
        token_hash=token_hash(token),
        user_id=user_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.lifetime,
        address=(address or "")[:64] or None,
    )
    db.add(row)
    return token, row


async def live_session(
    db: AsyncSession, token: str | None, policy: SessionPolicy
) -> ConsoleSession | None:
    """The session behind a cookie, or None when it is unknown, signed out or expired."""
    if not token or len(token) > 200:
        return None
    row = await db.get(ConsoleSession, token_hash(token))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if aware(row.expires_at) <= now or aware(row.last_seen_at) + policy.idle <= now:
        return None
    if aware(row.last_seen_at) + TOUCH_EVERY <= now:
        row.last_seen_at = now
        db.add(row)
    return row


async def close_session(db: AsyncSession, token: str | None) -> None:
    if not token or len(token) > 200:
        return
    row = await db.get(ConsoleSession, token_hash(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        db.add(row)


def same_token(expected: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), (given or "").encode())
