"""Review and approval: the queue, one entry, the summary, approve/unapprove/retry, rules."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, model_validator

from omni2qbd_gateway.api.deps import TenantAccess, database, read_access, write_access
from omni2qbd_gateway.api.errors import AUTH, BAD_REQUEST, CONFLICT, REFUSALS, http_error
from omni2qbd_gateway.workflow import approval, entries
from omni2qbd_gateway.workflow.states import ApiState
from omni2qbd_gateway.workflow.views import EntryDetail, EntryItem, EntryPage, Summary
from omni2qbd_shared.db.engine import unit_of_work

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["review"], responses=AUTH)


@router.get("/entries", response_model=EntryPage, responses=BAD_REQUEST)
async def list_entries(
    request: Request,
    access: TenantAccess = Depends(read_access),
    state: ApiState | None = None,
    kind: str | None = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    contact: str | None = None,
    q: str | None = None,
    limit: Annotated[int, Query(ge=1, le=entries.MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> EntryPage:
    """The review queue, newest transaction date first; each document's newest version."""
    wanted = entries.EntryFilter(state, kind, date_from, date_to, contact, q)
    try:
        async with unit_of_work(database(request)) as db:
            return await entries.list_entries(db, access.scope, wanted, limit=limit, cursor=cursor)
    except REFUSALS as exc:
        raise http_error(exc) from None


@router.get("/summary", response_model=Summary)
async def summary(request: Request, access: TenantAccess = Depends(read_access)) -> Summary:
    """Counts of the queue by state and by kind."""
    async with unit_of_work(database(request)) as db:
        return await entries.summary(db, access.scope)


@router.get("/entries/{entry_id}", response_model=EntryDetail)
async def entry_detail(
    entry_id: str, request: Request, access: TenantAccess = Depends(read_access)
) -> EntryDetail:
    """One entry: its debit/credit lines, the qbXML it would send, QuickBooks' answer and
    its history."""
    try:
        async with unit_of_work(database(request)) as db:
            return await entries.entry_detail(db, access.scope, entry_id)
    except REFUSALS as exc:
        raise http_error(exc) from None


class ApproveRequest(BaseModel):
    entry_ids: list[str] | None = Field(None, max_length=5000)
    all_ready: bool = False
    kind: str | None = Field(None, description="With all_ready: only this entry kind")
    to: date | None = Field(None, description="With all_ready: transaction dates up to this")

    @model_validator(mode="after")
    def _one_way(self) -> ApproveRequest:
        if (self.entry_ids is None) == (not self.all_ready):
            raise ValueError('give either "entry_ids" or "all_ready": true')
        return self


@router.post("/entries/approve", response_model=approval.ApprovalResult)
async def approve(
    body: ApproveRequest, request: Request, access: TenantAccess = Depends(write_access)
) -> approval.ApprovalResult:
    """Approve entries for the next Web Connector run; what was refused says why."""
    async with unit_of_work(database(request)) as db:
        return await approval.approve(
            db,
            access.scope,
            entry_ids=body.entry_ids,
            all_ready=body.all_ready,
            kind=body.kind,
            until=body.to,
        )


async def _entry_action(
    request: Request, access: TenantAccess, entry_id: str, action: str
) -> EntryItem:
    try:
        async with unit_of_work(database(request)) as db:
            if action == "unapprove":
                row = await approval.unapprove(db, access.scope, entry_id)
            else:
                row = await approval.retry(db, access.scope, entry_id)
            await db.flush()
            return entries.item_view(row, None)
    except REFUSALS as exc:
        raise http_error(exc) from None


@router.post("/entries/{entry_id}/unapprove", response_model=EntryItem, responses=CONFLICT)
async def unapprove(
    entry_id: str, request: Request, access: TenantAccess = Depends(write_access)
) -> EntryItem:
    """Take an approval back while the entry has not been sent."""
    return await _entry_action(request, access, entry_id, "unapprove")


@router.post("/entries/{entry_id}/retry", response_model=EntryItem, responses=CONFLICT)
async def retry(
    entry_id: str, request: Request, access: TenantAccess = Depends(write_access)
) -> EntryItem:
    """Send a failed entry again on the next Web Connector run, after fixing the cause."""
    return await _entry_action(request, access, entry_id, "retry")


@router.get("/rules/auto-approve", response_model=approval.AutoApproveRule)
async def get_auto_approve(
    request: Request, access: TenantAccess = Depends(read_access)
) -> approval.AutoApproveRule:
    """The tenant's auto-approve rule (off by default)."""
    async with unit_of_work(database(request)) as db:
        return await approval.get_rule(db, access.scope)


@router.put("/rules/auto-approve", response_model=approval.AutoApproveRule)
async def set_auto_approve(
    rule: approval.AutoApproveRule,
    request: Request,
    access: TenantAccess = Depends(write_access),
) -> approval.AutoApproveRule:
    """Approve arriving entries of these kinds, with no findings and a total up to the
    maximum, without a person."""
    async with unit_of_work(database(request)) as db:
        return await approval.set_rule(db, access.scope, rule)
