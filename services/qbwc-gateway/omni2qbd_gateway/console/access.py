"""Who is asking: the signed-in person behind the cookie, the tenant they may open, and the
CSRF check every form goes through.

Pages depend on ``signed_in`` (any person), ``operator_only`` or ``tenant_page`` (a tenant the
person may see). A tenant the person may not see answers 404, exactly like a tenant that does
not exist, so one tenant's users learn nothing about another's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.console import people
from omni2qbd_gateway.console.web_sessions import (
    COOKIE_NAME,
    SessionPolicy,
    live_session,
    same_token,
)
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.console_sessions import ConsoleSession
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Tenant
from omni2qbd_shared.service import ServiceRuntime

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass
class ConsoleState:
    """What the console needs from the gateway process, kept on ``app.state.console``."""

    runtime: ServiceRuntime
    settings: AppSettings
    templates: Jinja2Templates

    @property
    def policy(self) -> SessionPolicy:
        return SessionPolicy(
            lifetime=timedelta(hours=self.settings.console_session_hours),
            idle=timedelta(minutes=self.settings.console_idle_minutes),
        )

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self.runtime.sessions is None:
            raise HTTPException(503, "the service is still starting; try again in a moment")
        return self.runtime.sessions

    @property
    def secret_key(self) -> str:
        return self.settings.secret_key.get_secret_value()

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        async with unit_of_work(self.sessions) as session:
            yield session


class SignInNeeded(Exception):
    """Raised by the page dependencies; answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def console_state(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


State = Annotated[ConsoleState, Depends(console_state)]


@dataclass(frozen=True)
class Viewer:
    person: people.Person
    session: ConsoleSession

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


async def signed_in(request: Request, state: State) -> Viewer:
    token = request.cookies.get(COOKIE_NAME)
    tenant_id = request.path_params.get("tenant_id")
    async with state.db() as db:
        session = await live_session(db, token, state.policy)
        person = (
            await people.person(db, session.user_id, session.created_at)
            if session is not None
            else None
        )
        # A tenant page's tenant, read in this same transaction: each transaction costs
        # round trips to the database, which dominate a page's time on a busy server.
        if person is not None and isinstance(tenant_id, str) and person.may_see(tenant_id):
            request.state.console_tenant = await db.get(Tenant, tenant_id)
    if session is None or person is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise SignInNeeded(target)
    return Viewer(person, session)


SignedIn = Annotated[Viewer, Depends(signed_in)]


async def operator_only(viewer: SignedIn) -> Viewer:
    if not viewer.person.is_operator:
        raise HTTPException(403, "This page is for operators.")
    return viewer


Operator = Annotated[Viewer, Depends(operator_only)]


@dataclass(frozen=True)
class TenantPage:
    viewer: Viewer
    tenant: Tenant

    @property
    def may_change(self) -> bool:
        return self.viewer.person.may_change(self.tenant.id)


async def tenant_page(
    request: Request, tenant_id: str, viewer: SignedIn, state: State
) -> TenantPage:
    if not viewer.person.may_see(tenant_id):
        raise HTTPException(404, "There is no such tenant, or it is not yours to open.")
    tenant: Tenant | None = getattr(request.state, "console_tenant", None)
    if tenant is None or tenant.id != tenant_id:
        async with state.db() as db:
            tenant = await db.get(Tenant, tenant_id)
    if tenant is None:
        raise HTTPException(404, "There is no such tenant, or it is not yours to open.")
    return TenantPage(viewer, tenant)


OnTenant = Annotated[TenantPage, Depends(tenant_page)]


async def checked_form(request: Request, viewer: SignedIn) -> dict[str, str | list[str]]:
    """The posted form, after its CSRF token matched the session's (field or htmx header)."""
    form = await request.form()
    given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not isinstance(given, str) or not same_token(viewer.csrf_token, given):
        raise HTTPException(
            403,
            "This form has expired or did not come from this console. Reload the page and "
            "try again.",
        )
    fields: dict[str, str | list[str]] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        fields[key] = values if len(values) > 1 else (values[0] if values else "")
    return fields


Form = Annotated[dict[str, str | list[str]], Depends(checked_form)]


def require_change(page: TenantPage) -> None:
    if not page.may_change:
        raise HTTPException(403, "Your role on this tenant is read only.")


def as_list(value: str | list[str] | None) -> list[str]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def as_text(value: str | list[str] | None) -> str:
    if isinstance(value, list):
        return value[0] if value else ""
    return value or ""
