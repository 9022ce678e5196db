"""``omni2qbd settings set|history``: a tenant's mapping settings, saved as a new version.

The gateway owns the settings table; saving tells the mapper (``tenant.events``) so entries
held for a missing mapping are re-checked at once.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.settings_store import save_settings
from omni2qbd_shared.cli_support import (
    TenantNotFound,
    database_session,
    get_tenant,
    load_settings,
    run_async,
    with_session,
)
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.settings_store import settings_history as history
from omni2qbd_shared.messages import TenantEventMessage
from omni2qbd_shared.messaging import Publisher, Topology, connect, ensure_topology
from omni2qbd_shared.tenant_settings import TenantSettings, settings_problems


def settings_set(
    tenant: Annotated[str, typer.Argument(help="Tenant id, Web Connector user name or name")],
    file: Annotated[Path, typer.Argument(help="Settings file (JSON), see `settings example`")],
    by: Annotated[
        str | None, typer.Option("--by", help="Who changes them (default: your login name)")
    ] = None,
) -> None:
    """Save a tenant's settings as a new version; held entries are re-checked."""
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        typer.echo(f"error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from exc
    problems = settings_problems(data)
    if problems:
        typer.echo(f"{file}: {len(problems)} problem(s); nothing was saved:", err=True)
        for problem in problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(2)
    body = TenantSettings.model_validate(data).model_dump(mode="json")
    actor = (by or getpass.getuser()).strip()
    settings = load_settings()
    try:
        version, tenant_id, told = run_async(_save_and_announce(settings, tenant, body, actor))
    except LookupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"saved settings version {version} for tenant {tenant_id} (by {actor})")
    if told is not None:
        typer.echo(
            f"warning: the mapper could not be told ({told}); held entries are re-checked when "
            "it next hears of this tenant. Run the command again once RabbitMQ is up.",
            err=True,
        )
        raise typer.Exit(1)


async def _save_and_announce(
    settings: AppSettings, tenant_ref: str, body: dict[str, Any], actor: str
) -> tuple[int, str, str | None]:
    async with database_session(settings) as session:
        tenant = await get_tenant(session, tenant_ref)
        saved = await save_settings(session, tenant.id, body, actor=actor)
        version, tenant_id = saved.version, tenant.id
    event = TenantEventMessage(
        tenant_id=tenant_id, event="settings_saved", actor=actor, detail={"version": version}
    )
    try:
        connection = await connect(settings.amqp_url)
    except Exception as exc:
        return version, tenant_id, f"RabbitMQ unreachable: {type(exc).__name__}"
    try:
        topology = Topology(namespace=settings.amqp_namespace)
        await ensure_topology(connection, topology)  # tolerates queues an older version made
        publisher = await Publisher.open(connection, topology)
        await publisher.publish(event)
        await publisher.close()
    finally:
        await connection.close()
    return version, tenant_id, None


def settings_history(
    tenant: Annotated[str, typer.Argument(help="Tenant id, Web Connector user name or name")],
) -> None:
    """List every saved settings version of a tenant, with who saved it and when."""

    async def work(session: AsyncSession, _settings: AppSettings) -> list[tuple[int, str, str]]:
        row = await get_tenant(session, tenant)
        return [
            (v.version, v.created_by, v.created_at.isoformat(timespec="seconds"))
            for v in await history(session, row.id)
        ]

    try:
        versions = run_async(with_session(work))
    except TenantNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not versions:
        typer.echo("no settings saved yet: the defaults apply (`omni2qbd settings example`)")
    for number, who, when in versions:
        typer.echo(f"version {number:>3}  {when}  by {who}")
