"""Contact and item matching (issue 10 §4): proposals, confirming, bulk confirm of exact ones."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from omni2qbd_gateway.api.deps import TenantAccess, database, read_access, write_access
from omni2qbd_gateway.api.workflow_http import PROBLEMS, publish_soon
from omni2qbd_gateway.workflow import matching
from omni2qbd_shared.db.engine import unit_of_work

router = APIRouter(tags=["matching"])
StatusFilter = Literal["unmatched", "proposed", "matched"]


class Proposal(BaseModel):
    list_id: str
    name: str
    list_type: str
    score: float
    reason: str


class Match(BaseModel):
    list_id: str | None
    name: str | None
    list_type: str
    confirmed_by: str | None
    confirmed_at: str | None
    how: str


class PendingDocument(BaseModel):
    entry_id: str
    kind: str
    cin7_id: str
    reference: str | None
    entry_kind: str
    state: str
    total: str | None


class ContactMatchRow(BaseModel):
    cin7_contact_id: str
    cin7_kind: str
    name: str
    email: str | None
    list_type: str
    status: StatusFilter
    match: Match | None
    proposals: list[Proposal]
    documents: list[PendingDocument]
    held_entry_ids: list[str]


class ContactMatchPage(BaseModel):
    items: list[ContactMatchRow]


class ItemMatchRow(BaseModel):
    code: str
    name: str
    list_type: str
    status: StatusFilter
    match: Match | None
    proposals: list[Proposal]
    documents: list[PendingDocument]
    held_entry_ids: list[str]


class ItemMatchPage(BaseModel):
    items: list[ItemMatchRow]


class MatchRequest(BaseModel):
    list_id: str | None = None
    create: bool = False


class ContactMatchResult(BaseModel):
    cin7_contact_id: str
    cin7_kind: str
    list_id: str | None
    name: str
    list_type: str
    created_on_import: bool
    rechecking: list[str]


class ItemMatchResult(BaseModel):
    code: str
    list_id: str
    name: str
    list_type: str
    rechecking: list[str]


class ConfirmedMatch(BaseModel):
    cin7_contact_id: str
    list_id: str
    name: str


class BulkConfirmResult(BaseModel):
    confirmed: list[ConfirmedMatch]


class ConfirmedItem(BaseModel):
    code: str
    list_id: str
    name: str


class BulkItemConfirmResult(BaseModel):
    confirmed: list[ConfirmedItem]


@router.get(
    "/tenants/{tenant_id}/contacts/matches", response_model=ContactMatchPage, responses=PROBLEMS
)
async def contact_matches(
    request: Request,
    status: StatusFilter | None = Query(None, description="unmatched | proposed | matched"),
    access: TenantAccess = Depends(read_access),
) -> ContactMatchPage:
    """Each Cin7 customer or supplier used by a pending document, with QuickBooks proposals."""
    async with unit_of_work(database(request)) as db:
        rows = await matching.contact_matches(db, access.scope, status)
    return ContactMatchPage.model_validate({"items": rows})


@router.post(
    "/tenants/{tenant_id}/contacts/matches/confirm-exact",
    response_model=BulkConfirmResult,
    responses=PROBLEMS,
)
async def confirm_exact(
    request: Request, access: TenantAccess = Depends(write_access)
) -> BulkConfirmResult:
    """Confirm every proposed contact whose best proposal is its exact QuickBooks name."""
    async with unit_of_work(database(request)) as db:
        result = await matching.confirm_exact_contacts(db, access.scope, actor=access.scope.actor)
    publish_soon(request)
    return BulkConfirmResult.model_validate(result)


@router.post(
    "/tenants/{tenant_id}/contacts/{cin7_contact_id}/match",
    response_model=ContactMatchResult,
    responses=PROBLEMS,
)
async def match_contact(
    cin7_contact_id: str,
    body: MatchRequest,
    request: Request,
    access: TenantAccess = Depends(write_access),
) -> ContactMatchResult:
    """Link to a QuickBooks customer/vendor (``list_id``) or create one on import."""
    try:
        async with unit_of_work(database(request)) as db:
            result = await matching.confirm_contact(
                db,
                access.scope,
                cin7_contact_id,
                list_id=body.list_id,
                create=body.create,
                actor=access.scope.actor,
            )
    except matching.MatchError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    publish_soon(request)
    return ContactMatchResult.model_validate(result)


@router.get("/tenants/{tenant_id}/items/matches", response_model=ItemMatchPage, responses=PROBLEMS)
async def item_matches(
    request: Request,
    status: StatusFilter | None = Query(None, description="unmatched | proposed | matched"),
    access: TenantAccess = Depends(read_access),
) -> ItemMatchPage:
    """Each Cin7 product code on a pending document, with QuickBooks item proposals."""
    async with unit_of_work(database(request)) as db:
        rows = await matching.item_matches(db, access.scope, status)
    return ItemMatchPage.model_validate({"items": rows})


@router.post(
    "/tenants/{tenant_id}/items/{code}/match", response_model=ItemMatchResult, responses=PROBLEMS
)
async def match_item(
    code: str, body: MatchRequest, request: Request, access: TenantAccess = Depends(write_access)
) -> ItemMatchResult:
    """Link a Cin7 product code to a QuickBooks item by its ListID."""
    try:
        async with unit_of_work(database(request)) as db:
            result = await matching.confirm_item(
                db,
                access.scope,
                code,
                list_id=body.list_id,
                create=body.create,
                actor=access.scope.actor,
            )
    except matching.MatchError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    publish_soon(request)
    return ItemMatchResult.model_validate(result)


@router.post(
    "/tenants/{tenant_id}/items/matches/confirm-exact",
    response_model=BulkItemConfirmResult,
    responses=PROBLEMS,
)
async def confirm_exact_items(
    request: Request, access: TenantAccess = Depends(write_access)
) -> BulkItemConfirmResult:
    """Confirm every proposed product code whose best proposal is its exact item name."""
    async with unit_of_work(database(request)) as db:
        result = await matching.confirm_exact_items(db, access.scope, actor=access.scope.actor)
    publish_soon(request)
    return BulkItemConfirmResult.model_validate(result)
