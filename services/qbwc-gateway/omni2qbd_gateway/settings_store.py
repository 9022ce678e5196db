"""Saving a tenant's mapping settings: every save is a new version with who and when."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.models import AuditLog, TenantSettingsVersion
from omni2qbd_shared.db.settings_store import next_version


async def save_settings(
    session: AsyncSession, tenant_id: str, body: dict[str, Any], *, actor: str
) -> TenantSettingsVersion:
    """Store ``body`` (already validated by the caller) as the tenant's newest settings."""
    version = TenantSettingsVersion(
        tenant_id=tenant_id,
        version=await next_version(session, tenant_id),
        body=body,
        created_by=actor,
    )
    session.add(version)
    session.add(
        AuditLog(
            tenant_id=tenant_id,
            actor=actor,
            action="settings.saved",
            subject=f"version {version.version}",
        )
    )
    await session.flush()
    return version
