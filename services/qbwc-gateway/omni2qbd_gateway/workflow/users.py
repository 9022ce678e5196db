"""People: create, list, disable, reset passwords; sign-in and bearer tokens.

Passwords are Argon2 hashes (``omni2qbd_shared.secrets``) verified off the event loop;
sign-in is throttled (``omni2qbd_gateway.login_throttle``) per account and per address.
Tokens are 256 random bits, stored as SHA-256, with an expiry, and revoked by ``revoke``, by
disabling the user or by resetting their password.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets as pysecrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import login_throttle
from omni2qbd_gateway.login_throttle import Attempt, ThrottlePolicy
from omni2qbd_gateway.workflow import audit
from omni2qbd_shared import secrets
from omni2qbd_shared.cli_support import get_tenant
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Tenant, aware, utcnow
from omni2qbd_shared.db.people import OPERATOR, TENANT_ROLES, ApiToken, Membership, User

ROLES = (OPERATOR, *TENANT_ROLES)
# Which roles satisfy a required role: an operator may do anything, a bookkeeper what a
# viewer may, a viewer only read.
_RANK = {"viewer": 1, "bookkeeper": 2, OPERATOR: 3}


class UserError(ValueError):
    """A request about people that cannot be done, in words for the person asking."""


class UserNotFound(UserError, LookupError):
    pass


class SignInRefused(Exception):
    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def role_satisfies(role: str | None, required: str) -> bool:
    return role is not None and _RANK.get(role, 0) >= _RANK[required]


@dataclass(frozen=True)
class Principal:
    """A signed-in person and what they may see."""

    user_id: str
    email: str
    is_operator: bool
    roles: dict[str, str] = field(default_factory=dict)  # tenant id -> bookkeeper | viewer

    def role_in(self, tenant_id: str) -> str | None:
        return OPERATOR if self.is_operator else self.roles.get(tenant_id)


@dataclass(frozen=True)
class NewPassword:
    user_id: str
    email: str
    password: str  # shown once


@dataclass(frozen=True)
class UserRow:
    user_id: str
    email: str
    role: str
    tenants: dict[str, str]  # tenant id -> role
    disabled: bool


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        raise UserError(f"{email!r} is not an e-mail address")
    if len(value) > 320:
        raise UserError("an e-mail address has at most 320 characters")
    return value


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def find_user(db: AsyncSession, ref: str) -> User:
    """A user by id or e-mail."""
    user = await db.get(User, ref)
    if user is None:
        user = (await db.exec(select(User).where(User.email == ref.strip().lower()))).one_or_none()
    if user is None:
        raise UserNotFound(f"no user {ref!r}: give an e-mail or user id (see `omni2qbd user list`)")
    return user


async def create_user(
    db: AsyncSession, *, email: str, role: str, tenants: Sequence[str], actor: str
) -> NewPassword:
    """A new user with a generated password (returned once, stored only as a hash)."""
    address = normalise_email(email)
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == OPERATOR and tenants:
        raise UserError("an operator sees every tenant: give no --tenant")
    if role != OPERATOR and not tenants:
        raise UserError(f"a {role} works in a tenant: give --tenant TENANT (once per tenant)")
    password = secrets.new_password()
    # Hashed before the first query: on SQLite that query takes the write lock.
    password_hash = await asyncio.to_thread(secrets.hash_password, password)
    if (await db.exec(select(User).where(User.email == address))).first() is not None:
        raise UserError(f"a user with e-mail {address} already exists")
    resolved: list[Tenant] = [await get_tenant(db, ref) for ref in tenants]
    user = User(
        email=address,
        password_hash=password_hash,
        is_operator=role == OPERATOR,
    )
    db.add(user)
    await db.flush()
    for tenant in resolved:
        db.add(Membership(user_id=user.id, tenant_id=tenant.id, role=role))
    await audit.record(
        db,
        tenant_id=None,
        actor=actor,
        action="user.created",
        subject=address,
        detail={"role": role, "tenants": [t.id for t in resolved]},
    )
    return NewPassword(user.id, address, password)


async def list_users(db: AsyncSession) -> list[UserRow]:
    users = (await db.exec(select(User).order_by(col(User.email)))).all()
    memberships = (await db.exec(select(Membership))).all()
    by_user: dict[str, dict[str, str]] = {}
    for m in memberships:
        by_user.setdefault(m.user_id, {})[m.tenant_id] = m.role
    rows: list[UserRow] = []
    for user in users:
        tenants = by_user.get(user.id, {})
        role = OPERATOR if user.is_operator else ", ".join(sorted(set(tenants.values()))) or "-"
        rows.append(UserRow(user.id, user.email, role, tenants, user.disabled))
    return rows


async def _revoke_all(db: AsyncSession, user_id: str) -> None:
    await db.exec(
        update(ApiToken)
        .where(col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


async def disable_user(db: AsyncSession, ref: str, *, actor: str) -> User:
    """The user can no longer sign in; their tokens stop working at once."""
    user = await find_user(db, ref)
    user.disabled = True
    db.add(user)
    await _revoke_all(db, user.id)
    await audit.record(db, tenant_id=None, actor=actor, action="user.disabled", subject=user.email)
    return user


async def reset_password(db: AsyncSession, ref: str, *, actor: str) -> NewPassword:
    """A new generated password (shown once); the old one and every token stop working."""
    password = secrets.new_password()
    # Hashed before the first query: on SQLite that query takes the write lock.
    password_hash = await asyncio.to_thread(secrets.hash_password, password)
    user = await find_user(db, ref)
    user.password_hash = password_hash
    user.password_changed_at = utcnow()
    db.add(user)
    await _revoke_all(db, user.id)
    await audit.record(
        db, tenant_id=None, actor=actor, action="user.password_reset", subject=user.email
    )
    return NewPassword(user.id, user.email, password)


async def principal(db: AsyncSession, user: User) -> Principal:
    memberships = (await db.exec(select(Membership).where(Membership.user_id == user.id))).all()
    return Principal(
        user.id, user.email, user.is_operator, {m.tenant_id: m.role for m in memberships}
    )


async def check_password(
    sessions: async_sessionmaker[AsyncSession],
    email: str,
    password: str,
    *,
    address: str | None,
    policy: ThrottlePolicy,
) -> User:
    """The user these credentials belong to, or SignInRefused (wrong, disabled or throttled).

    The same answer for an unknown e-mail, a wrong password and a disabled user, at the same
    Argon2 cost, so the answer does not tell which e-mail addresses have accounts.
    """
    account = email.strip().lower()
    async with unit_of_work(sessions) as db:
        reservation = await login_throttle.reserve(db, Attempt("api", account, address), policy)
        user = (await db.exec(select(User).where(User.email == account))).one_or_none()
    if reservation.refusal is not None:
        raise SignInRefused(reservation.refusal.message, reservation.refusal.retry_after)
    stored = user.password_hash if user is not None else None
    ok = await asyncio.to_thread(secrets.verify_password, stored, password)
    if not ok or user is None or user.disabled:
        raise SignInRefused("wrong e-mail or password")
    async with unit_of_work(sessions) as db:
        await login_throttle.succeeded(db, reservation)
    return user


async def issue_token(db: AsyncSession, user: User, ttl_seconds: int) -> IssuedToken:
    token = pysecrets.token_urlsafe(32)
    db.add(
        ApiToken(
            token_hash=_hash_token(token),
            user_id=user.id,
            expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        )
    )
    return IssuedToken(token, ttl_seconds)


async def sign_in(
    sessions: async_sessionmaker[AsyncSession],
    email: str,
    password: str,
    *,
    address: str | None,
    policy: ThrottlePolicy,
    ttl_seconds: int,
) -> IssuedToken:
    user = await check_password(sessions, email, password, address=address, policy=policy)
    async with unit_of_work(sessions) as db:
        return await issue_token(db, user, ttl_seconds)


async def user_for_token(db: AsyncSession, token: str) -> User | None:
    """The enabled user a live (unexpired, unrevoked) token belongs to, else None."""
    row = (
        await db.exec(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    ).one_or_none()
    if row is None or row.revoked_at is not None or aware(row.expires_at) <= utcnow():
        return None
    user = await db.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    return user


async def revoke(db: AsyncSession, token: str) -> bool:
    """Revoke one token; False when it was not a live token."""
    result = await db.exec(
        update(ApiToken)
        .where(col(ApiToken.token_hash) == _hash_token(token), col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)


async def prune_tokens(db: AsyncSession, older_than: timedelta = timedelta(days=30)) -> None:
    """Forget tokens that expired long ago, so the table stays small."""
    await db.exec(delete(ApiToken).where(col(ApiToken.expires_at) < utcnow() - older_than))
