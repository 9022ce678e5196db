"""The start page (an operator's list of tenants, or a person's own tenants), adding a
tenant, and the operators' people page (create, disable, reset a password)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from omni2qbd_gateway.console import overview
from omni2qbd_gateway.console.access import Form, Operator, SignedIn, State, as_list, as_text
from omni2qbd_gateway.console.flash import read_flash, with_flash
from omni2qbd_gateway.console.routes_auth import home_of
from omni2qbd_gateway.console.templating import render
from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_gateway.workflow import tenant_admin, users

router = APIRouter()


@router.get("/")
async def home(request: Request, state: State, viewer: SignedIn) -> Response:
    if not viewer.person.is_operator and len(viewer.person.tenant_ids) == 1:
        return RedirectResponse(home_of(viewer.person), status_code=303)
    async with state.db() as db:
        rows = await overview.tenant_rows(db, viewer.person)
    message, kind = read_flash(state.secret_key, request)
    return render(
        state.templates,
        request,
        "home.html",
        {
            "viewer": viewer,
            "section": "tenants",
            "rows": rows,
            "message": message,
            "message_kind": kind,
        },
    )


@router.post("/tenants")
async def add_tenant(state: State, viewer: Operator, form: Form) -> Response:
    name = as_text(form.get("name")).strip()
    if not name:
        raise HTTPException(422, "Give the company a name.")
    async with state.db() as db:
        created = await create_tenant(
            db, name=name, secret_key=state.secret_key, actor=viewer.person.email
        )
    return RedirectResponse(f"/console/tenants/{created.tenant_id}/connect", status_code=303)


async def _people_page(
    request: Request,
    state: State,
    viewer: Operator,
    *,
    message: str | None = None,
    message_kind: str = "ok",
    new_password: users.NewPassword | None = None,
    status_code: int = 200,
) -> Response:
    async with state.db() as db:
        rows = await users.list_users(db)
        tenant_rows = await overview.tenant_rows(db, viewer.person)
    names = {row.tenant_id: row.name for row in tenant_rows}
    return render(
        state.templates,
        request,
        "people.html",
        {
            "viewer": viewer,
            "section": "people",
            "rows": rows,
            "tenant_names": names,
            "tenants": tenant_rows,
            "message": message,
            "message_kind": message_kind,
            "new_password": new_password,
        },
        status_code=status_code,
    )


@router.get("/people")
async def people_page(request: Request, state: State, viewer: Operator) -> Response:
    return await _people_page(request, state, viewer)


@router.post("/people")
async def add_person(request: Request, state: State, viewer: Operator, form: Form) -> Response:
    role = as_text(form.get("role"))
    tenants = [] if role == "operator" else as_list(form.get("tenants"))
    try:
        async with state.db() as db:
            created = await users.create_user(
                db,
                email=as_text(form.get("email")),
                role=role,
                tenants=tenants,
                actor=viewer.person.email,
            )
    except (users.UserError, LookupError) as exc:
        return await _people_page(
            request, state, viewer, message=str(exc), message_kind="error", status_code=422
        )
    return await _people_page(
        request, state, viewer, message=f"Added {created.email}.", new_password=created
    )


@router.post("/people/{user_id}/disable")
async def disable_person(
    request: Request, state: State, viewer: Operator, user_id: str, _form: Form
) -> Response:
    if user_id == viewer.person.user_id:
        return await _people_page(
            request,
            state,
            viewer,
            message="You cannot disable your own account.",
            message_kind="error",
            status_code=422,
        )
    try:
        async with state.db() as db:
            user = await users.disable_user(db, user_id, actor=viewer.person.email)
    except users.UserError as exc:
        raise HTTPException(404, str(exc)) from exc
    return await _people_page(
        request, state, viewer, message=f"{user.email} can no longer sign in."
    )


@router.post("/people/{user_id}/reset-password")
async def reset_person(
    request: Request, state: State, viewer: Operator, user_id: str, _form: Form
) -> Response:
    try:
        async with state.db() as db:
            renewed = await users.reset_password(db, user_id, actor=viewer.person.email)
    except users.UserError as exc:
        raise HTTPException(404, str(exc)) from exc
    return await _people_page(
        request,
        state,
        viewer,
        message=f"New password for {renewed.email}; their old one no longer works.",
        new_password=renewed,
    )


@router.get("/health")
async def health_page(request: Request, state: State, viewer: Operator) -> Response:
    async with state.db() as db:
        rows = await overview.tenant_rows(db, viewer.person)
    return render(
        state.templates,
        request,
        "health.html",
        {"viewer": viewer, "section": "health", "rows": rows},
    )


@router.post("/tenants/{tenant_id}/lifecycle")
async def tenant_lifecycle(
    request: Request, state: State, viewer: Operator, tenant_id: str, form: Form
) -> Response:
    """Disable (the Web Connector is refused, the fetcher stops), enable, or delete."""
    action = as_text(form.get("action"))
    target = f"/console/tenants/{tenant_id}/connect"
    try:
        async with state.db() as db:
            if action in ("disable", "enable"):
                done = await tenant_admin.set_active(
                    db,
                    tenant_id,
                    active=action == "enable",
                    actor=viewer.person.email,
                    reason=as_text(form.get("reason")).strip() or None,
                )
                message = f"{done.name} is {'enabled' if done.active else 'disabled'}."
            elif action == "delete":
                deleted = await tenant_admin.delete_tenant(
                    db, tenant_id, confirm=as_text(form.get("confirm")), actor=viewer.person.email
                )
                message = (
                    f"{deleted.name} and its data ({deleted.rows_deleted:,} rows) were deleted."
                )
                target = "/console/"
            else:
                raise HTTPException(422, "Choose disable, enable or delete.")
    except tenant_admin.TenantNotFound as exc:
        raise HTTPException(404, "There is no such tenant.") from exc
    except tenant_admin.ConfirmationMismatch as exc:
        return RedirectResponse(
            with_flash(state.secret_key, target, f"Not deleted: {exc}.", "error"), status_code=303
        )
    return RedirectResponse(with_flash(state.secret_key, target, message), status_code=303)
