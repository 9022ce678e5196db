"""Tenants and their credentials: create, list, rotate the Web Connector password."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.session import end_tenant_sessions
from omni2qbd_shared import secrets
from omni2qbd_shared.cli_support import get_tenant
from omni2qbd_shared.db.models import AuditLog, Cin7Credential, Tenant, utcnow


@dataclass(frozen=True)
class NewTenant:
    tenant_id: str
    name: str
    qbwc_username: str
    qbwc_password: str  # shown once, never stored in clear


def _username_for(name: str, suffix: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "tenant"
    return f"{slug}-{suffix}"


async def create_tenant(
    session: AsyncSession,
    *,
    name: str,
    secret_key: str,
    actor: str,
    cin7_username: str | None = None,
    cin7_api_key: str | None = None,
    cin7_base_url: str | None = None,
    qbxml_version: str = "13.0",
) -> NewTenant:
    if not name.strip():
        raise ValueError("a tenant needs a name")
    if (cin7_username is None) != (cin7_api_key is None):
        raise ValueError("give both --cin7-username and --cin7-api-key, or neither")
    password = secrets.new_password()
    tenant = Tenant(
        name=name.strip(),
        qbwc_username="pending",
        qbwc_password_hash=secrets.hash_generated_password(password),
        qbxml_version=qbxml_version,
    )
    tenant.qbwc_username = _username_for(name, tenant.id[:8])
    session.add(tenant)
    await session.flush()
    if cin7_username is not None and cin7_api_key is not None:
        session.add(
            Cin7Credential(
                tenant_id=tenant.id,
                username=cin7_username,
                api_key_encrypted=secrets.encrypt(secret_key, cin7_api_key),
                base_url=cin7_base_url or "https://api.cin7.com/api/",
            )
        )
    session.add(
        AuditLog(tenant_id=tenant.id, actor=actor, action="tenant.created", subject=tenant.name)
    )
    return NewTenant(tenant.id, tenant.name, tenant.qbwc_username, password)


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return list((await session.exec(select(Tenant).order_by(col(Tenant.created_at)))).all())


async def rotate_password(session: AsyncSession, tenant_ref: str, *, actor: str) -> NewTenant:
    password = secrets.new_password()
    # Argon2 before the first query, off the event loop: on SQLite that query takes the
    # write lock, and the hash's fraction of a second would hold every other service.
    password_hash = await asyncio.to_thread(secrets.hash_generated_password, password)
    tenant = await get_tenant(session, tenant_ref)
    tenant.qbwc_password_hash = password_hash
    session.add(tenant)
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action="tenant.password_rotated"))
    # A session opened with the old password ends now, not when it times out.
    await end_tenant_sessions(session, tenant.id, "The Web Connector password was changed.")
    return NewTenant(tenant.id, tenant.name, tenant.qbwc_username, password)


async def set_cin7_credentials(
    session: AsyncSession,
    tenant_id: str,
    *,
    secret_key: str,
    username: str,
    api_key: str,
    base_url: str,
    actor: str,
) -> None:
    credential = await session.get(Cin7Credential, tenant_id)
    encrypted = secrets.encrypt(secret_key, api_key)
    if credential is None:
        credential = Cin7Credential(
            tenant_id=tenant_id, username=username, api_key_encrypted=encrypted, base_url=base_url
        )
    else:
        credential.username = username
        credential.api_key_encrypted = encrypted
        credential.base_url = base_url
        credential.updated_at = utcnow()
    session.add(credential)
    session.add(AuditLog(tenant_id=tenant_id, actor=actor, action="tenant.cin7_credentials_set"))
