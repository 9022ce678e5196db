"""Review and import (the tenant's home), the queue by state, one entry, Import, take back,
retry, and the live progress of a Web Connector run."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from omni2qbd_gateway.console import queue
from omni2qbd_gateway.console.access import (
    Form,
    OnTenant,
    State,
    TenantPage,
    as_list,
    as_text,
    require_change,
)
from omni2qbd_gateway.console.flash import read_flash, with_flash
from omni2qbd_gateway.console.templating import render
from omni2qbd_gateway.console.words import KIND_WORDS, STATES

router = APIRouter()
HOME_LIMIT = 50
PAGE_LIMIT = 50
KINDS = [(kind, label) for kind, label in KIND_WORDS.items() if kind not in ("cogs",)]


def _total(items: list[Any]) -> Decimal:
    return sum((Decimal(str(queue.value_of(i, "total") or 0)) for i in items), Decimal("0"))


@router.get("/tenants/{tenant_id}/")
async def tenant_home(request: Request, state: State, page: OnTenant) -> Response:
    async with state.db() as db:
        counts = await queue.counts(db, page)
        ready = await queue.entries(db, page, queue.Filters(state="ready"), HOME_LIMIT, None)
        attention = await queue.entries(db, page, queue.Filters(state="needs_attention"), 20, None)
        progress = await queue.progress(db, page)
    message, kind = read_flash(state.secret_key, request)
    return render(
        state.templates,
        request,
        "tenant_home.html",
        queue.page_context(
            page,
            "review",
            counts=counts,
            current_state=None,
            ready=ready.items,
            ready_total=_total(ready.items),
            attention=attention.items,
            progress=progress,
            message=message,
            message_kind=kind,
        ),
    )


@router.get("/tenants/{tenant_id}/entries")
async def entries(request: Request, state: State, page: OnTenant) -> Response:
    params = request.query_params
    wanted = params.get("state") or "ready"
    if wanted not in STATES:
        raise HTTPException(
            404, f"There is no status called {wanted!r}. Choose one from the list of statuses."
        )
    filters = queue.Filters(
        state=wanted,
        kind=params.get("kind") or None,
        date_from=params.get("from") or None,
        date_to=params.get("to") or None,
        contact=params.get("contact") or None,
        q=params.get("q") or None,
    )
    cursor = params.get("cursor") or None
    async with state.db() as db:
        counts = await queue.counts(db, page)
        found = await queue.entries(db, page, filters, PAGE_LIMIT, cursor)
    kept = {k: v for k, v in params.items() if k != "cursor" and v}
    section = "transactions" if wanted in ("posted", "failed", "locked", "in_doubt") else "review"
    message, kind = read_flash(state.secret_key, request)
    return render(
        state.templates,
        request,
        "entries.html",
        queue.page_context(
            page,
            section,
            counts=counts,
            filters=filters,
            kinds=KINDS,
            items=found.items,
            page_total=_total(found.items),
            cursor=cursor,
            next_cursor=found.next_cursor,
            first_query=urlencode(kept),
            next_query=urlencode({**kept, "cursor": found.next_cursor or ""}),
            message=message,
            message_kind=kind,
        ),
    )


@router.get("/tenants/{tenant_id}/entries/{entry_id}")
async def entry(request: Request, state: State, page: OnTenant, entry_id: str) -> Response:
    async with state.db() as db:
        detail = await queue.detail(db, page, entry_id)
        changed = await queue.reimport(db, page, entry_id) if detail is not None else None
    if detail is None:
        raise HTTPException(404, "There is no such entry in this tenant.")
    lines = queue.value_of(detail, "debit_credit") or []
    debit = sum((Decimal(str(queue.value_of(x, "debit") or 0)) for x in lines), Decimal("0"))
    credit = sum((Decimal(str(queue.value_of(x, "credit") or 0)) for x in lines), Decimal("0"))
    message, kind = read_flash(state.secret_key, request)
    return render(
        state.templates,
        request,
        "entry.html",
        queue.page_context(
            page,
            "review",
            entry=detail,
            reimport=changed,
            debit_total=debit,
            credit_total=credit,
            message=message,
            message_kind=kind,
        ),
    )


@router.get("/tenants/{tenant_id}/entries/{entry_id}/qbxml")
async def entry_qbxml(request: Request, state: State, page: OnTenant, entry_id: str) -> Response:
    async with state.db() as db:
        detail = await queue.detail(db, page, entry_id)
    if detail is None:
        raise HTTPException(404, "There is no such entry in this tenant.")
    return render(
        state.templates, request, "_qbxml.html", {"qbxml": queue.value_of(detail, "qbxml")}
    )


def _back(page: TenantPage, form: dict[str, str | list[str]], entry_id: str | None) -> str:
    back = as_text(form.get("back"))
    base = f"/console/tenants/{page.tenant.id}/"
    if back == "entry" and entry_id:
        return f"{base}entries/{entry_id}"
    if back.startswith(f"{base}entries"):
        return back.rstrip("?")
    return base


@router.post("/tenants/{tenant_id}/entries/approve")
async def approve(state: State, page: OnTenant, form: Form) -> Response:
    require_change(page)
    ids = as_list(form.get("entry_ids"))
    all_ready = as_text(form.get("all_ready")) == "1"
    if not ids and not all_ready:
        target = _back(page, form, None)
        return RedirectResponse(
            with_flash(state.secret_key, target, "Select at least one entry to import.", "error"),
            status_code=303,
        )
    async with state.db() as db:
        outcome = await queue.approve(db, page, ids, all_ready=all_ready)
    target = _back(page, form, ids[0] if len(ids) == 1 else None)
    return RedirectResponse(
        with_flash(state.secret_key, target, outcome.message, outcome.kind), status_code=303
    )


@router.post("/tenants/{tenant_id}/entries/retry")
async def retry(state: State, page: OnTenant, form: Form) -> Response:
    require_change(page)
    ids = as_list(form.get("entry_ids"))
    async with state.db() as db:
        outcome = await queue.retry(db, page, ids)
    target = _back(page, form, ids[0] if len(ids) == 1 else None)
    return RedirectResponse(
        with_flash(state.secret_key, target, outcome.message, outcome.kind), status_code=303
    )


@router.post("/tenants/{tenant_id}/entries/{entry_id}/unapprove")
async def unapprove(state: State, page: OnTenant, entry_id: str, _form: Form) -> Response:
    require_change(page)
    async with state.db() as db:
        outcome = await queue.unapprove(db, page, entry_id)
    target = f"/console/tenants/{page.tenant.id}/entries/{entry_id}"
    return RedirectResponse(
        with_flash(state.secret_key, target, outcome.message, outcome.kind), status_code=303
    )


@router.get("/tenants/{tenant_id}/progress")
async def progress(request: Request, state: State, page: OnTenant) -> Response:
    async with state.db() as db:
        current = await queue.progress(db, page)
    return render(
        state.templates, request, "_progress.html", {"tenant": page.tenant, "progress": current}
    )
