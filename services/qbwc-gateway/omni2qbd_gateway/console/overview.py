"""The start page's rows: the tenants a person may open, with their connection health and
what waits in each (the workflow's health service, the same the JSON API answers with)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.console.people import Person
from omni2qbd_gateway.tenants import list_tenants
from omni2qbd_gateway.workflow import health
from omni2qbd_gateway.workflow.health import TenantHealth


async def tenant_rows(db: AsyncSession, person: Person) -> list[TenantHealth]:
    """Every tenant for an operator (stale first), else the person's own, by name."""
    if person.is_operator:
        return (await health.all_tenants(db)).tenants
    tenants = [t for t in await list_tenants(db) if person.may_see(t.id)]
    rows = [await health.tenant_health(db, tenant) for tenant in tenants]
    return sorted(rows, key=lambda row: row.name.casefold())
