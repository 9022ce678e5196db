"""The audit log: ``GET /tenants/{tenant_id}/audit`` (JSON pages or ``?format=csv``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from omni2qbd_gateway.api.deps import TenantAccess, database, read_access
from omni2qbd_gateway.api.errors import AUTH
from omni2qbd_gateway.workflow import audit
from omni2qbd_shared.db.engine import unit_of_work

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["audit"], responses=AUTH)


class AuditPage(BaseModel):
    items: list[audit.AuditEvent]
    next_cursor: str | None


@router.get(
    "/audit",
    response_model=AuditPage,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def audit_log(
    request: Request,
    access: TenantAccess = Depends(read_access),
    action: str | None = None,
    actor: str | None = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Approvals, matches, settings changes, imports and QuickBooks exchanges, newest first,
    with who, when, the settings version and the qbXML sent and received."""
    wanted = audit.AuditFilter(action=action, actor=actor, since=since, until=until)
    async with unit_of_work(database(request)) as db:
        events, next_cursor = await audit.list_events(
            db, access.scope, wanted, limit=limit, cursor=cursor
        )
    if format == "csv":
        return Response(
            audit.as_csv(events),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    return AuditPage(items=events, next_cursor=next_cursor)
