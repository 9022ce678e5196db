"""``omni2qbd fetch TENANT``: sync one tenant now ("refresh now" from the command line)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_fetcher import repository as repo
from omni2qbd_fetcher.options import FetcherOptions
from omni2qbd_fetcher.supplier_credits import SupplierCreditCsvError, import_supplier_credits
from omni2qbd_fetcher.tenant_sync import TenantSyncer, TenantSyncError, TurnResult
from omni2qbd_shared.cli_support import TenantNotFound, database_session, get_tenant, load_settings
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.messaging import Publisher, connect, ensure_topology

# Options may follow TENANT (`fetch acme --via URL`): a group stops at its first argument otherwise.
app = typer.Typer(
    help="Fetch one tenant's Cin7 Omni documents now.",
    context_settings={"allow_interspersed_args": True},
)


async def _find_tenant_id(settings: AppSettings, tenant: str) -> str | None:
    async with database_session(settings, read_only=True) as session:
        try:
            return (await get_tenant(session, tenant)).id
        except TenantNotFound:
            return None


@asynccontextmanager
async def _database_and_broker(
    settings: AppSettings,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], Publisher]]:
    """The same database and broker the service uses, for one command."""
    topology = FetcherOptions.from_settings(settings).topology(settings)
    engine = create_engine(settings.database_url)
    connection = await connect(settings.amqp_url)
    try:
        await ensure_topology(connection, topology)  # tolerates queues an older version made
        publisher = await Publisher.open(connection, topology)
        try:
            yield session_factory(engine), publisher
        finally:
            await publisher.close()
    finally:
        await connection.close()
        await engine.dispose()


async def fetch_now(settings: AppSettings, tenant_id: str) -> TurnResult:
    """One complete sync of the tenant in this process."""
    # The credentials are checked before the broker is touched: a tenant that cannot be
    # synced is refused in words, without connecting anywhere else.
    secret_key = settings.secret_key.get_secret_value()
    async with database_session(settings) as session:
        access = await repo.tenant_access(session, tenant_id, secret_key)
        if access is None:
            raise LookupError(await repo.credentials_problem(session, tenant_id, secret_key))
    async with _database_and_broker(settings) as (sessions, publisher):
        options = FetcherOptions.from_settings(settings)
        syncer = TenantSyncer(sessions=sessions, publisher=publisher, options=options)
        try:
            return await syncer.turn(access)
        finally:
            await syncer.aclose()


async def _import_file(settings: AppSettings, tenant_id: str, data: bytes) -> tuple[int, int]:
    async with _database_and_broker(settings) as (sessions, publisher):
        return await import_supplier_credits(
            tenant_id=tenant_id, data=data, sessions=sessions, publisher=publisher
        )


@app.callback(invoke_without_command=True)
def fetch(
    tenant: str = typer.Argument(..., help="Tenant id, Web Connector user name or exact name."),
    via: str | None = typer.Option(
        None, "--via", help="Ask a running fetcher service (its base URL) instead of fetching here."
    ),
    supplier_credits: Path | None = typer.Option(
        None,
        "--supplier-credits",
        help="Instead of fetching, import supplier credit notes from a Cin7 Omni CSV export.",
        exists=True,
        dir_okay=False,
    ),
) -> None:
    """Fetch TENANT's new and changed Cin7 documents now and publish them."""
    settings = load_settings()
    try:
        tenant_id = asyncio.run(_find_tenant_id(settings, tenant))
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(
            f"error: cannot read the tenants from the database ({type(exc).__name__}); check "
            "OMNI2QBD_DATABASE_URL and run `omni2qbd migrate`",
            err=True,
        )
        raise typer.Exit(2) from exc
    if tenant_id is None:
        typer.echo(f"error: no tenant {tenant!r} (see `omni2qbd tenant list`)", err=True)
        raise typer.Exit(2)
    if supplier_credits is not None:
        try:
            read, published = asyncio.run(
                _import_file(settings, tenant_id, supplier_credits.read_bytes())
            )
        except SupplierCreditCsvError as exc:
            typer.echo(f"error: {supplier_credits}: {exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(
            f"tenant {tenant_id}: {read} supplier credit notes read from {supplier_credits.name}, "
            f"{published} new revisions published"
        )
        return
    if via:
        response = httpx.post(f"{via.rstrip('/')}/tenants/{tenant_id}/refresh", timeout=30)
        if response.status_code != 202:
            typer.echo(
                f"error: the fetcher answered {response.status_code}: {response.text}", err=True
            )
            raise typer.Exit(1)
        typer.echo(f"refresh of tenant {tenant_id} queued on {via}")
        return
    try:
        result = asyncio.run(fetch_now(settings, tenant_id))
    except (LookupError, TenantSyncError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"tenant {tenant_id}: {result.seen} documents read in {result.pages} pages, "
        f"{result.published} new revisions published"
    )
