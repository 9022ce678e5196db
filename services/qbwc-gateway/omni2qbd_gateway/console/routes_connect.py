"""Connect: a new tenant's first screens.

1. the Cin7 Omni API user and key, tested on save, the result in words;
2. the .qwc file to add to the Web Connector;
3. the Web Connector password, shown once, with the three steps to enter it;
4. a page that waits for the first Web Connector run and shows what arrived.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from omni2qbd_gateway.console import connection
from omni2qbd_gateway.console.access import Form, OnTenant, State, as_text, require_change
from omni2qbd_gateway.console.flash import read_flash
from omni2qbd_gateway.console.queue import page_context
from omni2qbd_gateway.console.templating import render
from omni2qbd_gateway.qwc import QwcError, build_qwc, qwc_filename
from omni2qbd_gateway.tenants import rotate_password
from omni2qbd_gateway.workflow import tenant_admin
from omni2qbd_gateway.workflow.cin7_check import Cin7Check
from omni2qbd_gateway.workflow.tenant_admin import save_cin7_credentials
from omni2qbd_shared.cin7_address import Cin7AddressRefused

router = APIRouter()
DEFAULT_CIN7_URL = "https://api.cin7.com/api/"


async def _connect_page(
    request: Request,
    state: State,
    page: OnTenant,
    *,
    cin7_result: Cin7Check | None = None,
    password: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with state.db() as db:
        cin7 = await connection.cin7_summary(db, page.tenant.id)
        first_run = await connection.first_run(db, page.tenant)
        admin = await tenant_admin.view(db, page.tenant.id)
    message, kind = read_flash(state.secret_key, request)
    return render(
        state.templates,
        request,
        "connect.html",
        page_context(
            page,
            "connect",
            cin7=cin7,
            cin7_result=cin7_result,
            password=password,
            first_run=first_run,
            default_cin7_url=DEFAULT_CIN7_URL,
            typed=typed or {},
            admin=admin,
            message=message,
            message_kind=kind,
        ),
        status_code=status_code,
    )


@router.get("/tenants/{tenant_id}/connect")
async def connect(request: Request, state: State, page: OnTenant) -> Response:
    return await _connect_page(request, state, page)


@router.post("/tenants/{tenant_id}/connect/cin7")
async def save_cin7(request: Request, state: State, page: OnTenant, form: Form) -> Response:
    require_change(page)
    username = as_text(form.get("cin7_username")).strip()
    api_key = as_text(form.get("cin7_api_key")).strip()
    base_url = as_text(form.get("cin7_base_url")).strip() or DEFAULT_CIN7_URL
    typed = {"username": username, "base_url": base_url}
    if not username or not api_key:
        result = Cin7Check(
            ok=False, message="Enter both the API user name and the API key from Cin7 Omni."
        )
        return await _connect_page(
            request, state, page, cin7_result=result, typed=typed, status_code=422
        )
    try:
        async with state.db() as db:
            # Tested against Cin7 first; saved only when Cin7 accepted them.
            result = await save_cin7_credentials(
                db,
                page.tenant.id,
                username=username,
                api_key=api_key,
                base_url=base_url,
                secret_key=state.secret_key,
                actor=page.viewer.person.email,
                allowed_hosts=state.settings.cin7_allowed_hosts,
            )
    except Cin7AddressRefused as exc:  # never contacted, never saved
        result = Cin7Check(ok=False, message=str(exc))
    return await _connect_page(
        request,
        state,
        page,
        cin7_result=result,
        typed=None if result.ok else typed,
        status_code=200 if result.ok else 422,
    )


@router.get("/tenants/{tenant_id}/connect/cin7")
@router.get("/tenants/{tenant_id}/connect/password")
async def back_to_connect(page: OnTenant) -> Response:
    """Opening a form's address (a bookmark, the address bar) leads to the Connect page."""
    return RedirectResponse(f"/console/tenants/{page.tenant.id}/connect", status_code=303)


@router.get("/tenants/{tenant_id}/connect/qwc")
async def download_qwc(state: State, page: OnTenant) -> Response:
    try:
        body = build_qwc(page.tenant, state.settings.gateway_public_url)
    except QwcError as exc:
        return Response(str(exc), status_code=409, media_type="text/plain; charset=utf-8")
    return Response(
        body,
        media_type="application/x-qwc",
        headers={
            "Content-Disposition": f'attachment; filename="{qwc_filename(page.tenant)}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/tenants/{tenant_id}/connect/password")
async def new_password(request: Request, state: State, page: OnTenant, _form: Form) -> Response:
    require_change(page)
    async with state.db() as db:
        created = await rotate_password(db, page.tenant.id, actor=page.viewer.person.email)
    return await _connect_page(request, state, page, password=created.qbwc_password)


@router.get("/tenants/{tenant_id}/connect/first-run")
async def first_run_fragment(request: Request, state: State, page: OnTenant) -> Response:
    """The 'what arrived' panel; the page polls it until the first run is complete."""
    async with state.db() as db:
        first_run = await connection.first_run(db, page.tenant)
    return render(
        state.templates,
        request,
        "_first_run.html",
        {"tenant": page.tenant, "first_run": first_run},
    )
