"""The console: server-rendered pages (Jinja2, htmx) for bookkeepers and operators at
``/console/``, on the gateway's own service layer.

``mount_console(app, runtime, settings)`` is the only thing the gateway app calls.
"""

from __future__ import annotations

import contextlib

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from omni2qbd_gateway.console import (
    routes_audit,
    routes_auth,
    routes_connect,
    routes_matching,
    routes_operator,
    routes_reports,
    routes_review,
    routes_settings,
)
from omni2qbd_gateway.console.access import ConsoleState, SignInNeeded, signed_in
from omni2qbd_gateway.console.templating import STATIC_DIR, build_templates, render
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.service import ServiceRuntime

PREFIX = "/console"
_HEADINGS = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    429: "Too many attempts",
    503: "Not available yet",
}


def mount_console(app: FastAPI, runtime: ServiceRuntime, settings: AppSettings) -> None:
    state = ConsoleState(runtime=runtime, settings=settings, templates=build_templates())
    app.state.console = state
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(STATIC_DIR)), name="console-static")
    for module in (
        routes_auth,
        routes_operator,
        routes_connect,
        routes_review,
        routes_matching,
        routes_reports,
        routes_audit,
        routes_settings,
    ):
        app.include_router(module.router, prefix=PREFIX, include_in_schema=False)

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, exc: SignInNeeded) -> Response:
        target = f"{PREFIX}/login?next={exc.next_path}" if exc.next_path else f"{PREFIX}/login"
        if request.headers.get("hx-request"):
            # htmx follows HX-Redirect with a full page load instead of swapping a fragment.
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def console_errors(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith(f"{PREFIX}/") or request.url.path.startswith(
            f"{PREFIX}/static/"
        ):
            return await http_exception_handler(request, exc)
        heading = _HEADINGS.get(exc.status_code, "Something went wrong")
        viewer = None
        if exc.status_code in (403, 404):
            # Keep the navigation and Sign out for a signed-in person who took a wrong turn.
            with contextlib.suppress(SignInNeeded, StarletteHTTPException):
                viewer = await signed_in(request, state)
        return render(
            state.templates,
            request,
            "error.html",
            {"viewer": viewer, "heading": heading, "message": exc.detail},
            status_code=exc.status_code,
            headers=dict(exc.headers or {}),
        )
