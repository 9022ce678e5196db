"""Sign in and sign out.

The sign-in form has no session yet, so its CSRF protection is a double-submit token: a
random value in a short-lived cookie that the form must echo. A page on another site can
make the browser send the cookie but cannot read it to put it in the form.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from omni2qbd_gateway.console import people
from omni2qbd_gateway.console.access import Form as CheckedForm
from omni2qbd_gateway.console.access import SignInNeeded, State, signed_in
from omni2qbd_gateway.console.templating import render
from omni2qbd_gateway.console.web_sessions import (
    COOKIE_NAME,
    close_session,
    open_session,
    same_token,
)

LOGIN_CSRF_COOKIE = "omni2qbd_login_csrf"
router = APIRouter()


def safe_next(value: str | None) -> str | None:
    """Only a console address on this site is followed after sign-in (no open redirect)."""
    if not value or not value.startswith("/console/") or value.startswith("//"):
        return None
    if "\\" in value or "\r" in value or "\n" in value or value.startswith("/console/login"):
        return None
    return value


def home_of(person: people.Person) -> str:
    if not person.is_operator and len(person.tenant_ids) == 1:
        return f"/console/tenants/{person.tenant_ids[0]}/"
    return "/console/"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(
    request: Request,
    state: State,
    *,
    message: str | None = None,
    message_kind: str = "error",
    email: str = "",
    next_path: str = "",
    status_code: int = 200,
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        state.templates,
        request,
        "login.html",
        {
            "viewer": None,
            "login_csrf": token,
            "message": message,
            "message_kind": message_kind,
            "email": email,
            "next_path": next_path,
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/console/login",
    )
    return response


@router.get("/login")
async def login_form(request: Request, state: State, next: str | None = None) -> Response:
    try:
        viewer = await signed_in(request, state)
    except SignInNeeded:
        signed_out = request.query_params.get("signed_out") == "1"
        return _login_page(
            request,
            state,
            message="You are signed out." if signed_out else None,
            message_kind="ok",
            next_path=safe_next(next) or "",
        )
    return RedirectResponse(safe_next(next) or home_of(viewer.person), status_code=303)


@router.post("/login")
async def login(
    request: Request,
    state: State,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not same_token(expected, csrf_token):
        return _login_page(
            request,
            state,
            message="The sign-in form had expired. Please enter your email and password again.",
            email=email,
            next_path=safe_next(next) or "",
            status_code=403,
        )
    address = request.client.host if request.client else None
    outcome = await people.sign_in(state, email.strip(), password, address)
    if outcome.person is None:
        return _login_page(
            request,
            state,
            message=outcome.refusal or "Wrong email or password.",
            email=email,
            next_path=safe_next(next) or "",
            status_code=429 if outcome.throttled else 401,
        )
    async with state.db() as db:
        token, _row = await open_session(db, outcome.person.user_id, state.policy, address)
    response = RedirectResponse(safe_next(next) or home_of(outcome.person), status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(state.policy.lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/console/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    return response


@router.post("/logout")
async def logout(request: Request, state: State, _form: CheckedForm) -> Response:
    async with state.db() as db:
        await close_session(db, request.cookies.get(COOKIE_NAME))
    response = RedirectResponse("/console/login?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/console/")
    return response
