"""Connection health: per tenant, and every tenant for operators (stale first)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from omni2qbd_gateway.api.deps import TenantAccess, database, operator_only, read_access
from omni2qbd_gateway.api.errors import AUTH
from omni2qbd_gateway.workflow import health
from omni2qbd_gateway.workflow.users import Principal
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Tenant

router = APIRouter(tags=["health"], responses=AUTH)


@router.get("/tenants/{tenant_id}/health", response_model=health.TenantHealth)
async def tenant_health(
    request: Request, access: TenantAccess = Depends(read_access)
) -> health.TenantHealth:
    """The tenant's Web Connector runs, QuickBooks, queue, error rate and Cin7 sync."""
    async with unit_of_work(database(request)) as db:
        tenant = await db.get(Tenant, access.tenant_id)
        assert tenant is not None  # tenant_access checked it
        return await health.tenant_health(db, tenant)


@router.get("/health", response_model=health.OperatorHealth)
async def all_health(
    request: Request, _operator: Principal = Depends(operator_only)
) -> health.OperatorHealth:
    """Every tenant's health, stale ones first (operators)."""
    async with unit_of_work(database(request)) as db:
        return await health.all_tenants(db)
