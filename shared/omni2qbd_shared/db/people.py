"""People who sign in to the console and the JSON API (gateway-owned, migration 0007).

A user has an e-mail, an Argon2 password hash and either the global ``operator`` role or a
role per tenant (``bookkeeper``, ``viewer``) through memberships. API tokens are random and
stored only as their SHA-256, with an expiry and a revocation time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

from omni2qbd_shared.db.models import new_id, utcnow

TENANT_ROLES = ("bookkeeper", "viewer")
OPERATOR = "operator"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    # Stored lower-case and trimmed, so one person cannot hold two accounts by case.
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(max_length=200)
    is_operator: bool = False
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    password_changed_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Membership(SQLModel, table=True):
    """A user's role in one tenant: ``bookkeeper`` (reviews, approves) or ``viewer``."""

    __tablename__ = "memberships"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=36)
    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", index=True, max_length=36)
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is stored, so a database leak yields no tokens."""

    __tablename__ = "api_tokens"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=36)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
