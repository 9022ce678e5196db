"""Tenant lifecycle (operators) and Cin7 credentials tested on save."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from omni2qbd_gateway.api.deps import (
    TenantAccess,
    database,
    operator_access,
    read_access,
    settings_of,
    write_access,
)
from omni2qbd_gateway.api.errors import AUTH, CONFLICT, REFUSALS, UNPROCESSABLE, http_error
from omni2qbd_gateway.workflow import tenant_admin
from omni2qbd_gateway.workflow.cin7_check import Cin7Check, check_credentials
from omni2qbd_shared.db.engine import unit_of_work

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["tenants"], responses=AUTH)


@router.get("", response_model=tenant_admin.TenantView)
async def tenant(
    request: Request, access: TenantAccess = Depends(read_access)
) -> tenant_admin.TenantView:
    """The tenant: name, whether it is active, its Web Connector user and Cin7 API user."""
    async with unit_of_work(database(request)) as db:
        return await tenant_admin.view(db, access.tenant_id)


class DisableRequest(BaseModel):
    reason: str | None = Field(None, max_length=500)


@router.post("/disable", response_model=tenant_admin.TenantView)
async def disable(
    request: Request,
    body: DisableRequest | None = None,
    access: TenantAccess = Depends(operator_access),
) -> tenant_admin.TenantView:
    """Stop the tenant: its Web Connector is refused (nvu) and the fetcher skips it."""
    async with unit_of_work(database(request)) as db:
        return await tenant_admin.set_active(
            db,
            access.tenant_id,
            active=False,
            actor=access.principal.email,
            reason=body.reason if body else None,
        )


@router.post("/enable", response_model=tenant_admin.TenantView)
async def enable(
    request: Request, access: TenantAccess = Depends(operator_access)
) -> tenant_admin.TenantView:
    """Let the tenant's Web Connector and fetcher work again."""
    async with unit_of_work(database(request)) as db:
        return await tenant_admin.set_active(
            db, access.tenant_id, active=True, actor=access.principal.email
        )


@router.delete("", response_model=tenant_admin.DeletedTenant, responses=CONFLICT)
async def delete(
    request: Request,
    confirm: str = Query(description="The tenant's exact name, to confirm"),
    access: TenantAccess = Depends(operator_access),
) -> tenant_admin.DeletedTenant:
    """Delete the tenant and all its data (confirm with its exact name)."""
    try:
        async with unit_of_work(database(request)) as db:
            return await tenant_admin.delete_tenant(
                db, access.tenant_id, confirm=confirm, actor=access.principal.email
            )
    except REFUSALS as exc:
        raise http_error(exc) from None


class Cin7Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    api_key: str = Field(min_length=1, max_length=500)
    base_url: str | None = Field(None, max_length=500, pattern=r"^https?://")


class Cin7TestRequest(BaseModel):
    credentials: Cin7Credentials | None = Field(
        None, description="Credentials to test; without them the saved ones are tested"
    )
    save: bool = Field(False, description="Save the credentials when Cin7 accepts them")


@router.post("/cin7/test", response_model=Cin7Check, responses=UNPROCESSABLE)
async def cin7_test(
    request: Request,
    body: Cin7TestRequest | None = None,
    access: TenantAccess = Depends(write_access),
) -> Cin7Check:
    """Test Cin7 Omni credentials with one read (and save them if asked and they work);
    the result in words. An address whose host is not an allowed Cin7 Omni API host
    (``OMNI2QBD_CIN7_ALLOWED_HOSTS``) is refused with 422 and never contacted."""
    settings = settings_of(request)
    secret_key = settings.secret_key.get_secret_value()
    allowed_hosts = settings.cin7_allowed_hosts
    try:
        async with unit_of_work(database(request)) as db:
            if body is None or body.credentials is None:
                return await tenant_admin.test_saved_credentials(
                    db, access.tenant_id, secret_key, allowed_hosts=allowed_hosts
                )
            given = body.credentials
            if body.save:
                return await tenant_admin.save_cin7_credentials(
                    db,
                    access.tenant_id,
                    username=given.username,
                    api_key=given.api_key,
                    base_url=given.base_url,
                    secret_key=secret_key,
                    actor=access.principal.email,
                    allowed_hosts=allowed_hosts,
                )

            return await check_credentials(
                given.base_url or tenant_admin.DEFAULT_CIN7_URL,
                given.username,
                given.api_key,
                allowed_hosts=allowed_hosts,
            )
    except REFUSALS as exc:
        raise http_error(exc) from None
