"""Reconciliation (issue 10 §7): Cin7 against QuickBooks per month and measure."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from omni2qbd_gateway.api.deps import TenantAccess, database, read_access, write_access
from omni2qbd_gateway.api.workflow_http import PROBLEMS
from omni2qbd_gateway.reconciliation_queries import MonthError
from omni2qbd_gateway.workflow import inventory_adjustment, reconciliation
from omni2qbd_shared.db.engine import unit_of_work

router = APIRouter(tags=["reconciliation"])
MONTH = r"^\d{4}-\d{2}$"


class DocumentDifference(BaseModel):
    source: str  # cin7 | quickbooks: where the document lives
    entry_id: str | None
    document: str
    kind: str | None
    cin7_id: str | None
    qb_type: str | None
    txn_id: str | None
    ref_number: str | None
    txn_date: str | None
    state: str | None
    cin7: str
    quickbooks: str
    difference: str
    reason: str


class MeasureRow(BaseModel):
    measure: str
    cin7: str | None
    quickbooks: str | None
    difference: str | None
    documents: list[DocumentDifference]
    basis: str | None = None


class MonthRows(BaseModel):
    month: str
    rows: list[MeasureRow]


class ReconciliationView(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    month: str | None
    rows: list[MeasureRow]
    from_month: str = Field(alias="from")
    to_month: str = Field(alias="to")
    months: list[MonthRows]
    quickbooks_status: str
    quickbooks_read_at: str | None
    reading_requested: bool
    note: str
    problems: list[str]


class ReadingRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    month: str | None = Field(None, pattern=MONTH)
    from_month: str | None = Field(None, alias="from", pattern=MONTH)
    to_month: str | None = Field(None, alias="to", pattern=MONTH)


class Reading(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    reading_id: int
    state: str
    from_month: str = Field(alias="from")
    to_month: str = Field(alias="to")


class AdjustmentRequest(BaseModel):
    month: str = Field(pattern=MONTH)


class Posting(BaseModel):
    account: str
    debit: str
    credit: str
    memo: str


class Adjustment(BaseModel):
    entry_id: str
    month: str
    difference: str
    state: str
    ref_number: str | None
    debit_credit: list[Posting]


def _range(month: str | None, first: str | None, last: str | None) -> tuple[str, str]:
    if month and (first or last):
        raise HTTPException(422, "give either month=YYYY-MM or from=YYYY-MM&to=YYYY-MM, not both")
    if month:
        return month, month
    if first and last:
        return first, last
    raise HTTPException(422, "give month=YYYY-MM, or a range from=YYYY-MM&to=YYYY-MM")


@router.get(
    "/tenants/{tenant_id}/reconciliation",
    response_model=ReconciliationView,
    responses=PROBLEMS,
)
async def reconcile(
    request: Request,
    month: str | None = Query(None, pattern=MONTH, description="YYYY-MM"),
    first: str | None = Query(None, alias="from", pattern=MONTH, description="range start"),
    last: str | None = Query(None, alias="to", pattern=MONTH, description="range end"),
    access: TenantAccess = Depends(read_access),
) -> ReconciliationView:
    """Per month and measure (sales, purchases, cogs, inventory): Cin7, QuickBooks (as read
    through the Web Connector), the difference and the documents causing it."""
    start, end = _range(month, first, last)
    try:
        async with unit_of_work(database(request)) as db:
            view = await reconciliation.reconciliation(
                db, access.scope, start, end, actor=access.scope.actor
            )
    except MonthError as exc:
        raise HTTPException(422, str(exc)) from None
    single = view["months"][0] if start == end else None
    return ReconciliationView.model_validate(
        {
            **view,
            "month": single["month"] if single else None,
            "rows": single["rows"] if single else [],
            "from": start,
            "to": end,
        }
    )


@router.post(
    "/tenants/{tenant_id}/reconciliation/refresh",
    response_model=Reading,
    status_code=202,
    responses=PROBLEMS,
)
async def refresh(
    body: ReadingRequest, request: Request, access: TenantAccess = Depends(write_access)
) -> Reading:
    """Ask the next Web Connector run to read QuickBooks again for these months."""
    start, end = _range(body.month, body.from_month, body.to_month)
    try:
        async with unit_of_work(database(request)) as db:
            row = await reconciliation.request_reading(
                db, access.scope, start, end, actor=access.scope.actor
            )
            reading = Reading(reading_id=row.id or 0, state=row.state, **{"from": start, "to": end})
    except MonthError as exc:
        raise HTTPException(422, str(exc)) from None
    return reading


@router.post(
    "/tenants/{tenant_id}/reconciliation/inventory-adjustment",
    response_model=Adjustment,
    status_code=201,
    responses=PROBLEMS,
)
async def approve_inventory_adjustment(
    body: AdjustmentRequest, request: Request, access: TenantAccess = Depends(write_access)
) -> Adjustment:
    """Approve the month's inventory value difference as an adjustment journal (posted by
    the next Web Connector run)."""
    try:
        async with unit_of_work(database(request)) as db:
            result = await inventory_adjustment.approve_inventory_adjustment(
                db, access.scope, body.month, actor=access.scope.actor
            )
    except reconciliation.ReconciliationError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    except MonthError as exc:
        raise HTTPException(422, str(exc)) from None
    return Adjustment.model_validate(result)
