"""COGS months (the journal and every document behind it) and the reconciliation of Cin7
against QuickBooks by month, one chart per measure, differences down to the documents."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.console.access import Form, OnTenant, State, TenantPage, require_change
from omni2qbd_gateway.console.flash import read_flash, with_flash
from omni2qbd_gateway.console.queue import page_context, scope_of
from omni2qbd_gateway.console.templating import render
from omni2qbd_gateway.reconciliation_queries import months_between, parse_month
from omni2qbd_gateway.workflow import cogs, inventory_adjustment, reconciliation
from omni2qbd_shared.db.models import Entry as EntryRow

router = APIRouter()
MEASURE_WORDS = {
    "sales": "Sales (invoices less credit memos)",
    "purchases": "Purchases (bills less vendor credits)",
    "cogs": "Cost of goods sold",
    "inventory": "Inventory value at month end",
}
CHART_MONTHS = 12


def _month(value: str | None) -> str | None:
    if not value:
        return None
    try:
        parse_month(value)
    except ValueError:
        return None
    return value


async def _latest_month(db: AsyncSession, page: TenantPage) -> str:
    """The newest month the tenant's documents reach (their data, not today's date)."""
    query = scope_of(page).columns(EntryRow, func.max(EntryRow.txn_date))
    newest = (await db.exec(query)).scalar()
    text = str(newest or "")[:7]
    return text if _month(text) else date.today().strftime("%Y-%m")


def _shift(month: str, months: int) -> str:
    year, number = int(month[:4]), int(month[5:7])
    index = year * 12 + number - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@router.get("/tenants/{tenant_id}/cogs")
async def cogs_page(
    request: Request, state: State, page: OnTenant, month: str | None = None
) -> Response:
    async with state.db() as db:
        chosen = _month(month) or await _latest_month(db, page)
        view = await cogs.cogs_month(db, scope_of(page), chosen)
    months = [_shift(chosen, -n) for n in range(0, 12)]
    return render(
        state.templates,
        request,
        "cogs.html",
        page_context(page, "cogs", cogs=view, month=chosen, months=months),
    )


def _amount(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(Decimal(text))
    except (InvalidOperation, ValueError):
        return None


def charts_of(view: dict[str, Any]) -> list[dict[str, Any]]:
    """One chart per measure: Cin7 against QuickBooks for each month (JSON for uPlot)."""
    charts = []
    for measure, title in MEASURE_WORDS.items():
        cin7, quickbooks = [], []
        for month in view["months"]:
            row = next(r for r in month["rows"] if r["measure"] == measure)
            cin7.append(_amount(row["cin7"]))
            quickbooks.append(_amount(row["quickbooks"]))
        charts.append(
            {
                "id": f"chart-{measure}",
                "measure": measure,
                "title": title,
                "data": json.dumps(
                    {
                        "title": title,
                        "months": [m["month"] for m in view["months"]],
                        "cin7": cin7,
                        "quickbooks": quickbooks,
                    }
                ),
            }
        )
    return charts


@router.get("/tenants/{tenant_id}/reconciliation")
async def reconciliation_page(request: Request, state: State, page: OnTenant) -> Response:
    params = request.query_params
    async with state.db() as db:
        to_month = _month(params.get("to")) or await _latest_month(db, page)
        from_month = _month(params.get("from")) or _shift(to_month, -(CHART_MONTHS - 1))
        if from_month > to_month:
            from_month, to_month = to_month, from_month
        try:
            months_between(from_month, to_month)
        except ValueError as exc:
            raise HTTPException(422, f"{exc}.") from exc
        view = await reconciliation.reconciliation(
            db, scope_of(page), from_month, to_month, actor=page.viewer.person.email
        )
    message, kind = read_flash(state.secret_key, request)
    return render(
        state.templates,
        request,
        "reconciliation.html",
        page_context(
            page,
            "reconciliation",
            view=view,
            charts=charts_of(view),
            measure_words=MEASURE_WORDS,
            from_month=from_month,
            to_month=to_month,
            message=message,
            message_kind=kind,
        ),
    )


@router.post("/tenants/{tenant_id}/reconciliation/{month}/inventory-adjustment")
async def approve_adjustment(state: State, page: OnTenant, month: str, _form: Form) -> Response:
    require_change(page)
    if _month(month) is None:
        raise HTTPException(404, "There is no such month.")
    try:
        async with state.db() as db:
            done = await inventory_adjustment.approve_inventory_adjustment(
                db, scope_of(page), month, actor=page.viewer.person.email
            )
        message = (
            f"The inventory adjustment for {month} is approved: the next Web Connector run "
            "posts it."
        )
        message += f" Its reference is {done['ref_number']}." if done.get("ref_number") else ""
        kind = "ok"
    except reconciliation.ReconciliationError as exc:
        message, kind = f"Not approved: {exc}.", "error"
    target = f"/console/tenants/{page.tenant.id}/reconciliation?from={month}&to={month}"
    return RedirectResponse(with_flash(state.secret_key, target, message, kind), status_code=303)
