"""Tenant lifecycle for operators: disable, enable, delete with its data, and Cin7
credentials tested when they are saved.

A disabled tenant's Web Connector gets ``nvu`` at ``authenticate`` (the gateway refuses
inactive tenants; ``disabled_message`` is the text to show) and the fetcher skips it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel
from sqlalchemy import Table, delete
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.session import end_tenant_sessions
from omni2qbd_gateway.tenants import set_cin7_credentials
from omni2qbd_gateway.workflow import audit
from omni2qbd_gateway.workflow.cin7_check import Cin7Check, check_credentials
from omni2qbd_shared import secrets
from omni2qbd_shared.db.models import Cin7Credential, Tenant, utcnow
from omni2qbd_shared.db.tenant_options import TenantOptions

DEFAULT_CIN7_URL = "https://api.cin7.com/api/"


class TenantNotFound(LookupError):
    pass


class TenantView(BaseModel):
    tenant_id: str
    name: str
    active: bool
    disabled_reason: str | None
    qbwc_username: str
    cin7_username: str | None
    cin7_base_url: str | None


class DeletedTenant(BaseModel):
    tenant_id: str
    name: str
    rows_deleted: int


class ConfirmationMismatch(ValueError):
    pass


async def _tenant(db: AsyncSession, tenant_id: str) -> Tenant:
    tenant = await db.get(Tenant, tenant_id)
    if tenant is None:
        raise TenantNotFound("no such tenant")
    return tenant


async def view(db: AsyncSession, tenant_id: str) -> TenantView:
    tenant = await _tenant(db, tenant_id)
    options = await db.get(TenantOptions, tenant_id)
    credential = await db.get(Cin7Credential, tenant_id)
    return TenantView(
        tenant_id=tenant.id,
        name=tenant.name,
        active=tenant.active,
        disabled_reason=options.disabled_reason if options is not None else None,
        qbwc_username=tenant.qbwc_username,
        cin7_username=credential.username if credential is not None else None,
        cin7_base_url=credential.base_url if credential is not None else None,
    )


def disabled_message(tenant_name: str, reason: str | None) -> str:
    """What a disabled tenant's Web Connector user is told."""
    why = f": {reason}" if reason else ""
    return (
        f"The Omni2QBD connection for {tenant_name} is disabled by the operator{why}. "
        "Nothing is sent to QuickBooks until it is enabled again."
    )


async def set_active(
    db: AsyncSession, tenant_id: str, *, active: bool, actor: str, reason: str | None = None
) -> TenantView:
    tenant = await _tenant(db, tenant_id)
    tenant.active = active
    db.add(tenant)
    options = await db.get(TenantOptions, tenant_id) or TenantOptions(tenant_id=tenant_id)
    options.disabled_reason = None if active else (reason or None)
    options.updated_by = actor
    options.updated_at = utcnow()
    db.add(options)
    await audit.record(
        db,
        tenant_id=tenant_id,
        actor=actor,
        action="tenant.enabled" if active else "tenant.disabled",
        subject=tenant.name,
        detail={"reason": reason} if reason else {},
    )
    if not active:
        # A disabled tenant posts nothing more: its Web Connector's open session ends now,
        # not when the Web Connector next logs in.
        await end_tenant_sessions(db, tenant_id, "The tenant was disabled.")
    await db.flush()
    return await view(db, tenant_id)


def _tenant_tables() -> list[Table]:
    """Every table with a tenant_id column, children before the tables they reference."""
    return [
        table
        for table in reversed(SQLModel.metadata.sorted_tables)
        if "tenant_id" in table.columns and table.name != "tenants"
    ]


async def delete_tenant(
    db: AsyncSession, tenant_id: str, *, confirm: str, actor: str
) -> DeletedTenant:
    """Delete the tenant and every row of its data; ``confirm`` must be its exact name."""
    tenant = await _tenant(db, tenant_id)
    if confirm != tenant.name:
        raise ConfirmationMismatch(
            f"to delete this tenant and all its data, confirm with its exact name {tenant.name!r}"
        )
    deleted = 0
    for table in _tenant_tables():
        result = await db.exec(delete(table).where(table.c.tenant_id == tenant_id))
        deleted += int(result.rowcount or 0)
    await db.delete(tenant)
    await audit.record(
        db,
        tenant_id=None,
        actor=actor,
        action="tenant.deleted",
        subject=tenant.name,
        detail={"tenant_id": tenant_id, "rows_deleted": deleted},
    )
    return DeletedTenant(tenant_id=tenant_id, name=tenant.name, rows_deleted=deleted)


async def save_cin7_credentials(
    db: AsyncSession,
    tenant_id: str,
    *,
    username: str,
    api_key: str,
    base_url: str | None,
    secret_key: str,
    actor: str,
    allowed_hosts: Sequence[str],
    require_ok: bool = True,
) -> Cin7Check:
    """Test the credentials against Cin7, then save them (only if they work, unless
    ``require_ok`` is False). The result says what happened in words."""
    await _tenant(db, tenant_id)
    url = base_url or DEFAULT_CIN7_URL
    check = await check_credentials(url, username, api_key, allowed_hosts=allowed_hosts)
    if check.ok or not require_ok:
        await set_cin7_credentials(
            db,
            tenant_id,
            secret_key=secret_key,
            username=username,
            api_key=api_key,
            base_url=url,
            actor=actor,
        )
    return check


async def test_saved_credentials(
    db: AsyncSession, tenant_id: str, secret_key: str, *, allowed_hosts: Sequence[str]
) -> Cin7Check:
    await _tenant(db, tenant_id)
    credential = await db.get(Cin7Credential, tenant_id)
    if credential is None:
        return Cin7Check(
            ok=False, message="No Cin7 Omni credentials are saved for this tenant yet."
        )
    api_key = secrets.decrypt(secret_key, credential.api_key_encrypted)
    return await check_credentials(
        credential.base_url, credential.username, api_key, allowed_hosts=allowed_hosts
    )
