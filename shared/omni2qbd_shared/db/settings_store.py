"""Reading a tenant's mapping settings (saved, versioned, by the gateway; read by the mapper)."""

from __future__ import annotations

from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.models import TenantSettingsVersion
from omni2qbd_shared.db.tenancy import scoped


async def latest_settings(session: AsyncSession, tenant_id: str) -> TenantSettingsVersion | None:
    """The newest saved settings version of a tenant, or None if none was saved yet."""
    statement = scoped(TenantSettingsVersion, tenant_id).order_by(
        col(TenantSettingsVersion.version).desc()
    )
    return (await session.exec(statement.limit(1))).first()


async def settings_history(session: AsyncSession, tenant_id: str) -> list[TenantSettingsVersion]:
    statement = scoped(TenantSettingsVersion, tenant_id).order_by(
        col(TenantSettingsVersion.version)
    )
    return list((await session.exec(statement)).all())


async def next_version(session: AsyncSession, tenant_id: str) -> int:
    latest = await latest_settings(session, tenant_id)
    return 1 if latest is None else latest.version + 1
