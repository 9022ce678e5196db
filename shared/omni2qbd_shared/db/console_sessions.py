"""Console sign-in sessions (gateway-owned, migration 0010).

The browser holds a random token in a cookie; only its SHA-256 is stored, so a copy of the
database cannot be used to sign in. Each session has its own CSRF token, an absolute expiry
and an idle expiry, and signing out revokes it for good.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class ConsoleSession(SQLModel, table=True):
    __tablename__ = "console_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=36)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    last_seen_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    address: str | None = Field(default=None, max_length=64)
