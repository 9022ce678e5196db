"""Re-import and lock (issue 10 §5): what changed in Cin7 after posting, draft or locked."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from omni2qbd_gateway.api.deps import TenantAccess, database, read_access
from omni2qbd_gateway.api.workflow_http import PROBLEMS
from omni2qbd_gateway.workflow import reimport
from omni2qbd_shared.db.engine import unit_of_work

router = APIRouter(tags=["re-import"])


class FieldChange(BaseModel):
    field: str  # the entry's path, for tools
    label: str  # the same field in a bookkeeper's words ("Sales tax", "Line 3: item")
    before: Any
    after: Any


class ChangedDocument(BaseModel):
    kind: str
    cin7_id: str
    label: str


class Actions(BaseModel):
    quickbooks: str
    cin7: str


class Reimport(BaseModel):
    entry_id: str
    posted_entry_id: str
    document: ChangedDocument
    qb_type: str
    txn_id: str
    edit_sequence: str
    state: str
    status: str  # draft | locked
    reason: str
    changes: list[FieldChange]
    actions: Actions


class ReimportPage(BaseModel):
    items: list[Reimport]


@router.get("/tenants/{tenant_id}/reimports", response_model=ReimportPage, responses=PROBLEMS)
async def reimports(request: Request, access: TenantAccess = Depends(read_access)) -> ReimportPage:
    """Documents changed in Cin7 after posting: locked ones first, then drafts."""
    async with unit_of_work(database(request)) as db:
        items = await reimport.reimports(db, access.scope)
    return ReimportPage.model_validate({"items": items})


@router.get(
    "/tenants/{tenant_id}/entries/{entry_id}/changes", response_model=Reimport, responses=PROBLEMS
)
async def entry_changes(
    entry_id: str, request: Request, access: TenantAccess = Depends(read_access)
) -> Reimport:
    """Field by field, what this entry changes against the version in QuickBooks."""
    try:
        async with unit_of_work(database(request)) as db:
            found = await reimport.reimport_of(db, access.scope, entry_id)
    except reimport.NotReimported as exc:
        raise HTTPException(404, str(exc)) from None
    return Reimport.model_validate(found)
