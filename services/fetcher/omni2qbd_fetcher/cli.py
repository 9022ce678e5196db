"""``omni2qbd fetch TENANT``: sync one tenant now ("refresh now" from the command line)."""

from __future__ import annotations

import asyncio

import httpx
import typer
from sqlmodel import col, or_, select

from omni2qbd_fetcher import repository as repo
from omni2qbd_fetcher.options import FetcherOptions
from omni2qbd_fetcher.tenant_sync import TenantSyncer, TenantSyncError, TurnResult
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.models import Tenant
from omni2qbd_shared.messaging import Publisher, Topology, connect, declare_topology

app = typer.Typer(help="Fetch one tenant's Cin7 Omni documents now.")


async def _find_tenant_id(settings: AppSettings, tenant: str) -> str | None:
    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            rows = await session.exec(
                select(Tenant).where(
                    or_(
                        col(Tenant.id) == tenant,
                        col(Tenant.qbwc_username) == tenant,
                        col(Tenant.name) == tenant,
                    )
                )
            )
            found = rows.all()
            return found[0].id if len(found) == 1 else None
    finally:
        await engine.dispose()


async def fetch_now(
    settings: AppSettings, tenant_id: str, topology: Topology | None = None
) -> TurnResult:
    """One complete sync of the tenant in this process (same database and broker as the service)."""
    options = FetcherOptions.from_settings(settings)
    topology = topology or options.topology(settings)
    engine = create_engine(settings.database_url)
    connection = await connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        await declare_topology(channel, topology)
        await channel.close()
        publisher = await Publisher.open(connection, topology)
        sessions = session_factory(engine)
        async with unit_of_work(sessions) as session:
            access = await repo.tenant_access(
                session, tenant_id, settings.secret_key.get_secret_value()
            )
        if access is None:
            raise LookupError(f"tenant {tenant_id} has no Cin7 credentials; set them first")
        syncer = TenantSyncer(sessions=sessions, publisher=publisher, options=options)
        try:
            return await syncer.turn(access)
        finally:
            await syncer.aclose()
            await publisher.close()
    finally:
        await connection.close()
        await engine.dispose()


@app.callback(invoke_without_command=True)
def fetch(
    tenant: str = typer.Argument(..., help="Tenant id, Web Connector user name or exact name."),
    via: str | None = typer.Option(
        None, "--via", help="Ask a running fetcher service (its base URL) instead of fetching here."
    ),
) -> None:
    """Fetch TENANT's new and changed Cin7 documents now and publish them."""
    settings = AppSettings()
    tenant_id = asyncio.run(_find_tenant_id(settings, tenant))
    if tenant_id is None:
        typer.echo(f"error: no tenant {tenant!r} (see `omni2qbd tenant list`)", err=True)
        raise typer.Exit(2)
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
