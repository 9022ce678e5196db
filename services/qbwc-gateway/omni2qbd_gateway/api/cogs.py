"""COGS months (issue 10 §6): a month's journal with every order and line behind it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from omni2qbd_gateway.api.deps import TenantAccess, database, read_access
from omni2qbd_gateway.api.workflow_http import PROBLEMS
from omni2qbd_gateway.reconciliation_queries import MonthError
from omni2qbd_gateway.workflow import cogs
from omni2qbd_shared.db.engine import unit_of_work

router = APIRouter(tags=["COGS"])
MONTH = r"^\d{4}-\d{2}$"


class CogsLine(BaseModel):
    line: int
    code: str | None
    name: str | None
    qty: str
    unit_cost: str
    cost: str


class CogsDocument(BaseModel):
    kind: str
    cin7_id: str
    document: str
    amount: str
    posted_amount: str | None
    change: str | None
    lines: list[CogsLine]


class Posting(BaseModel):
    account: str
    debit: str
    credit: str
    memo: str


class CogsJournal(BaseModel):
    entry_id: str
    state: str
    ref_number: str | None
    txn_date: str | None
    total: str | None
    debit_credit: list[Posting]
    findings: list[dict[str, Any]]


class PostedJournal(BaseModel):
    entry_id: str
    total: str | None
    txn_id: str | None
    edit_sequence: str | None
    posted_at: str | None


class CogsMonth(BaseModel):
    month: str
    status: str
    months_open: int
    total: str
    posted_total: str | None
    difference: str | None
    reopened: bool
    journal: CogsJournal | None
    posted: PostedJournal | None
    documents: list[CogsDocument]
    changes: list[CogsDocument]
    next_step: str


@router.get("/tenants/{tenant_id}/cogs", response_model=CogsMonth, responses=PROBLEMS)
async def cogs_month(
    request: Request,
    month: str = Query(..., pattern=MONTH, description="YYYY-MM"),
    access: TenantAccess = Depends(read_access),
) -> CogsMonth:
    """The month's COGS journal, each document's share and line, and any re-opened change."""
    try:
        async with unit_of_work(database(request)) as db:
            view = await cogs.cogs_month(db, access.scope, month)
    except MonthError as exc:
        raise HTTPException(422, str(exc)) from None
    return CogsMonth.model_validate(view)
