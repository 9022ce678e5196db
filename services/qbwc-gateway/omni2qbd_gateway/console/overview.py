"""The start page's rows: the tenants a person may open, with what waits in each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.console.people import Person
from omni2qbd_gateway.tenants import list_tenants


@dataclass(frozen=True)
class TenantRow:
    tenant_id: str
    name: str
    active: bool
    stale: bool = False
    last_run: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)


async def tenant_rows(db: AsyncSession, person: Person) -> list[TenantRow]:
    tenants = [t for t in await list_tenants(db) if person.may_see(t.id)]
    return [TenantRow(t.id, t.name, t.active) for t in tenants]
