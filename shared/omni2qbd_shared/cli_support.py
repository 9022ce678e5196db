"""What every ``omni2qbd`` command does the same way: read the settings (refusing bad ones in
one line per variable), open the configured database for one unit of work, find a tenant.

It lives in ``shared`` because the services' own command groups (``fetch``, ``approve``,
``status``...) are mounted in the same command line and must answer alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import typer
from pydantic import ValidationError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.models import Tenant

T = TypeVar("T")


class TenantNotFound(LookupError):
    pass


def load_settings() -> AppSettings:
    """The settings from the environment; a bad one exits 2 naming its variable."""
    try:
        return AppSettings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            variable = f"OMNI2QBD_{where.upper()}: " if where else ""
            typer.echo(f"error: {variable}{message}", err=True)
        raise typer.Exit(2) from exc


def run_async(awaitable: Awaitable[T]) -> T:
    async def _wrap() -> T:
        return await awaitable

    return asyncio.run(_wrap())


@asynccontextmanager
async def database_session(
    settings: AppSettings, *, read_only: bool = False
) -> AsyncIterator[AsyncSession]:
    """One unit of work on the configured database, its engine closed afterwards."""
    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(session_factory(engine), read_only=read_only) as session:
            yield session
    finally:
        await engine.dispose()


async def with_session(
    work: Callable[[AsyncSession, AppSettings], Awaitable[T]],
    settings: AppSettings | None = None,
    *,
    read_only: bool = False,
) -> T:
    """``work(session, settings)`` in one unit of work (settings from the environment if none)."""
    settings = settings or load_settings()
    async with database_session(settings, read_only=read_only) as session:
        return await work(session, settings)


async def get_tenant(session: AsyncSession, tenant_ref: str) -> Tenant:
    """A tenant by id, Web Connector user name or exact name (tried in that order)."""
    for column in (Tenant.id, Tenant.qbwc_username, Tenant.name):
        found = (await session.exec(select(Tenant).where(column == tenant_ref))).all()
        if len(found) == 1:
            return found[0]
    raise TenantNotFound(
        f"no tenant {tenant_ref!r}: give its id, its Web Connector user name or its exact name "
        "(see `omni2qbd tenant list`)"
    )
