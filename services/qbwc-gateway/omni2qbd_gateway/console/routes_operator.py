"""The start page (an operator's list of tenants, or a person's own tenants), adding a
tenant, and the operators' people page (create, disable, reset a password)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from omni2qbd_gateway.console import overview
from omni2qbd_gateway.console.access import Form, Operator, SignedIn, State, as_list, as_text
from omni2qbd_gateway.console.routes_auth import home_of
from omni2qbd_gateway.console.templating import render
from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_gateway.workflow import users

router = APIRouter()


@router.get("/")
async def home(request: Request, state: State, viewer: SignedIn) -> Response:
    if not viewer.person.is_operator and len(viewer.person.tenant_ids) == 1:
        return RedirectResponse(home_of(viewer.person), status_code=303)
    async with state.db() as db:
        rows = await overview.tenant_rows(db, viewer.person)
    return render(
        state.templates,
        request,
        "home.html",
        {"viewer": viewer, "section": "tenants", "rows": rows},
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
