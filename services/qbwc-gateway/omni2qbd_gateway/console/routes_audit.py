"""The audit log: who did what and when, with the settings version and the qbXML exchanged;
filters, paging and a CSV download. Operators pick the tenant from their start page."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from omni2qbd_gateway.console import overview
from omni2qbd_gateway.console.access import OnTenant, Operator, State
from omni2qbd_gateway.console.queue import page_context, scope_of
from omni2qbd_gateway.console.templating import SECURITY_HEADERS, render
from omni2qbd_gateway.workflow import audit
from omni2qbd_shared.db.models import aware

router = APIRouter()
PAGE = 100
CSV_LIMIT = 10_000


def _day(text: str | None, *, end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.fromisoformat(text).date()
    except ValueError:
        return None
    moment = aware(datetime.combine(day, time.min))
    return moment + timedelta(days=1) if end else moment


def _filter(request: Request) -> audit.AuditFilter:
    params = request.query_params
    return audit.AuditFilter(
        action=params.get("action") or None,
        actor=params.get("actor") or None,
        since=_day(params.get("from")),
        until=_day(params.get("to"), end=True),
    )


@router.get("/audit")
async def audit_tenants(request: Request, state: State, viewer: Operator) -> Response:
    async with state.db() as db:
        rows = await overview.tenant_rows(db, viewer.person)
    return render(
        state.templates,
        request,
        "audit_pick.html",
        {"viewer": viewer, "section": "audit", "rows": rows},
    )


@router.get("/tenants/{tenant_id}/audit")
async def audit_page(request: Request, state: State, page: OnTenant) -> Response:
    cursor = request.query_params.get("cursor") or None
    async with state.db() as db:
        events, next_cursor = await audit.list_events(
            db, scope_of(page), _filter(request), limit=PAGE, cursor=cursor
        )
    kept = {k: v for k, v in request.query_params.items() if k != "cursor" and v}
    return render(
        state.templates,
        request,
        "audit.html",
        page_context(
            page,
            "audit",
            events=events,
            params=kept,
            next_query=urlencode({**kept, "cursor": next_cursor}) if next_cursor else None,
            csv_query=urlencode(kept),
        ),
    )


@router.get("/tenants/{tenant_id}/audit.csv")
async def audit_csv(request: Request, state: State, page: OnTenant) -> Response:
    async with state.db() as db:
        events, _next = await audit.list_events(
            db, scope_of(page), _filter(request), limit=CSV_LIMIT, cursor=None
        )
    return Response(
        audit.as_csv(events),
        media_type="text/csv; charset=utf-8",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="audit-{page.tenant.id}.csv"',
        },
    )
