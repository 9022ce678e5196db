"""Matching: Cin7 contacts (and product codes) beside their proposed QuickBooks match and
score; confirm, search and pick another, create, or confirm every exact match at once."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from omni2qbd_gateway.console.access import (
    Form,
    OnTenant,
    State,
    TenantPage,
    as_text,
    require_change,
)
from omni2qbd_gateway.console.flash import read_flash, with_flash
from omni2qbd_gateway.console.queue import page_context, scope_of
from omni2qbd_gateway.console.templating import render
from omni2qbd_gateway.workflow import matching
from omni2qbd_gateway.workflow.match_proposals import Status

router = APIRouter()
STATUSES: tuple[Status, ...] = ("unmatched", "proposed", "matched")
SEARCH_LIMIT = 15


def _status(value: str | None) -> Status | None:
    for known in STATUSES:
        if value == known:
            return known
    return None


async def _matching_page(
    request: Request, state: State, page: TenantPage, what: str, status: str | None
) -> Response:
    wanted = _status(status)
    async with state.db() as db:
        if what == "items":
            rows = await matching.item_matches(db, scope_of(page), wanted)
        else:
            rows = await matching.contact_matches(db, scope_of(page), wanted)
    message, kind = read_flash(state.secret_key, request)
    exact = [r for r in rows if r["proposals"] and r["proposals"][0]["reason"] == "exact name"]
    return render(
        state.templates,
        request,
        "matching.html",
        page_context(
            page,
            "matching",
            rows=rows,
            status=wanted,
            statuses=STATUSES,
            exact_count=len(exact) if what == "contacts" else 0,
            what=what,
            message=message,
            message_kind=kind,
        ),
    )


@router.get("/tenants/{tenant_id}/matching")
async def contacts_page(
    request: Request, state: State, page: OnTenant, status: str | None = None
) -> Response:
    return await _matching_page(request, state, page, "contacts", status)


@router.get("/tenants/{tenant_id}/matching/items")
async def items_page(
    request: Request, state: State, page: OnTenant, status: str | None = None
) -> Response:
    return await _matching_page(request, state, page, "items", status)


@router.get("/tenants/{tenant_id}/matching/search")
async def search(
    request: Request, state: State, page: OnTenant, list_type: str, key: str, q: str = ""
) -> Response:
    """QuickBooks names of one list for the 'pick another' box (an htmx fragment)."""
    if list_type not in ("customer", "vendor", "item"):
        raise HTTPException(404, "There is no such QuickBooks list.")
    async with state.db() as db:
        elements = await matching.list_elements(db, scope_of(page), (list_type,))
    wanted = q.strip().casefold()
    found = [e for e in elements if wanted in e.name.casefold()][:SEARCH_LIMIT]
    return render(
        state.templates,
        request,
        "_match_search.html",
        {
            "tenant": page.tenant,
            "viewer": page.viewer,
            "found": found,
            "key": key,
            "list_type": list_type,
            "q": q,
        },
    )


def _back(page: TenantPage, form: dict[str, str | list[str]]) -> str:
    items = as_text(form.get("what")) == "items"
    return f"/console/tenants/{page.tenant.id}/matching{'/items' if items else ''}"


@router.post("/tenants/{tenant_id}/matching/confirm")
async def confirm(state: State, page: OnTenant, form: Form) -> Response:
    require_change(page)
    key = as_text(form.get("key"))
    list_id = as_text(form.get("list_id")) or None
    create = as_text(form.get("create")) == "1"
    actor = page.viewer.person.email
    try:
        async with state.db() as db:
            if as_text(form.get("what")) == "items":
                done = await matching.confirm_item(
                    db, scope_of(page), key, list_id=list_id, create=create, actor=actor
                )
                message = (
                    f"Product code {done['code']} now uses the QuickBooks item {done['name']}."
                )
            else:
                done = await matching.confirm_contact(
                    db, scope_of(page), key, list_id=list_id, create=create, actor=actor
                )
                if done["created_on_import"]:
                    message = f"{done['name']} will be created in QuickBooks on the next import."
                else:
                    message = f"Matched to the QuickBooks {done['list_type']} {done['name']}."
        held = len(done.get("rechecking") or [])
        if held:
            message += f" {held} held {'entry is' if held == 1 else 'entries are'} re-checked now."
        kind = "ok"
    except matching.MatchError as exc:
        message, kind = f"Not matched: {exc}.", "error"
    return RedirectResponse(
        with_flash(state.secret_key, _back(page, form), message, kind), status_code=303
    )


@router.post("/tenants/{tenant_id}/matching/confirm-exact")
async def confirm_exact(state: State, page: OnTenant, form: Form) -> Response:
    require_change(page)
    async with state.db() as db:
        done = await matching.confirm_exact_contacts(
            db, scope_of(page), actor=page.viewer.person.email
        )
    count = len(done["confirmed"])
    message = (
        f"Confirmed {count} exact {'match' if count == 1 else 'matches'}."
        if count
        else "There were no exact matches left to confirm."
    )
    return RedirectResponse(
        with_flash(state.secret_key, _back(page, form), message, "ok" if count else "warn"),
        status_code=303,
    )
