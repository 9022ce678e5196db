"""The ``omni2qbd`` command: one entry point for operators.

Sub-commands that live with the part they drive (simulators, services) are mounted here.
"""

from __future__ import annotations

import importlib
import json
from typing import Annotated, Any

import typer
from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd import (
    demo_cli,
    dlq_commands,
    secret_key_commands,
    session_commands,
    tenant_commands,
    user_commands,
)
from omni2qbd.secret_input import cin7_api_key_from
from omni2qbd.serve import serve
from omni2qbd.settings_commands import settings_history, settings_set
from omni2qbd_fetcher import cli as fetcher_cli
from omni2qbd_gateway import cli as gateway_cli
from omni2qbd_gateway.tenants import create_tenant, list_tenants, rotate_password
from omni2qbd_mapper import preview_cli, settings_cli
from omni2qbd_shared.cli_support import TenantNotFound, load_settings, run_async, with_session
from omni2qbd_shared.config import AppSettings, without_credentials
from omni2qbd_shared.db.migrate import upgrade
from omni2qbd_sims.cin7 import cli as cin7_sim_cli
from omni2qbd_sims.quickbooks import cli as quickbooks_sim_cli
from omni2qbd_sims.webconnector import cli as webconnector_sim_cli

__all__ = ["app", "load_settings", "main", "run_async"]

app = typer.Typer(
    help="Omni2QBD: post Cin7 Omni documents into QuickBooks Desktop via the Web Connector.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
tenant_app = typer.Typer(help="Create and manage tenants (one per QuickBooks company file).")
sim_app = typer.Typer(help="Run the simulators (Cin7 Omni, QuickBooks, Web Connector).")
app.add_typer(tenant_app, name="tenant")
app.add_typer(sim_app, name="sim")

SERVICES = {
    "fetcher": "omni2qbd_fetcher.app",
    "mapper": "omni2qbd_mapper.app",
    "gateway": "omni2qbd_gateway.app",
}


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
) -> None:
    """Create or upgrade the database schema (safe to run repeatedly)."""
    settings = load_settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database is at revision {revision}")


@app.command()
def run(
    service: Annotated[str, typer.Argument(help="fetcher, mapper or gateway")],
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
) -> None:
    """Run one service under uvicorn until SIGTERM/Ctrl-C."""
    if service not in SERVICES:
        typer.echo(f"error: unknown service {service!r}; choose one of {', '.join(SERVICES)}")
        raise typer.Exit(2)
    settings = load_settings()
    module = importlib.import_module(SERVICES[service])
    asgi_app = module.create_app(settings)
    serve(
        asgi_app,
        host=host or getattr(settings, f"{service}_host"),
        port=port if port is not None else getattr(settings, f"{service}_port"),
    )


def _print_tenant(tenant: Any, as_json: bool) -> None:
    """The tenant's Web Connector credentials (a NewTenant), the password shown only here."""
    payload = {
        "tenant_id": tenant.tenant_id,
        "qbwc_username": tenant.qbwc_username,
        "qbwc_password": tenant.qbwc_password,
    }
    if as_json:
        typer.echo(json.dumps(payload))
        return
    typer.echo(f"tenant id:             {payload['tenant_id']}")
    typer.echo(f"Web Connector user:    {payload['qbwc_username']}")
    typer.echo(f"Web Connector password: {payload['qbwc_password']}")
    typer.echo("The password is shown only this once; enter it in the Web Connector.")


@tenant_app.command("create")
def tenant_create(
    name: Annotated[str, typer.Option("--name", help="Client company name")],
    cin7_username: Annotated[str | None, typer.Option("--cin7-username")] = None,
    cin7_api_key: Annotated[str | None, typer.Option("--cin7-api-key", hidden=True)] = None,
    key_stdin: Annotated[
        bool, typer.Option("--cin7-api-key-stdin", help="Read the Cin7 API key from stdin")
    ] = False,
    cin7_base_url: Annotated[str | None, typer.Option("--cin7-base-url")] = None,
    qbxml_version: Annotated[str, typer.Option("--qbxml-version")] = "13.0",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
    skip_cin7_check: Annotated[
        bool, typer.Option("--skip-cin7-check", help="Save Cin7 credentials without testing")
    ] = False,
) -> None:
    """Create a tenant; prints its id and Web Connector user name and password. Cin7
    credentials, when given, are tested with Cin7 first."""
    if cin7_base_url is not None:  # refused even with --skip-cin7-check: it would be stored
        tenant_commands.allowed_cin7_address_or_exit(cin7_base_url)
    cin7_api_key = cin7_api_key_from(cin7_api_key, key_stdin, cin7_username)
    if cin7_username is not None and cin7_api_key is not None and not skip_cin7_check:
        tenant_commands.check_cin7_or_exit(cin7_base_url, cin7_username, cin7_api_key)

    async def work(session: AsyncSession, settings: AppSettings) -> Any:
        return await create_tenant(
            session,
            name=name,
            secret_key=settings.secret_key.get_secret_value(),
            actor="cli",
            cin7_username=cin7_username,
            cin7_api_key=cin7_api_key,
            cin7_base_url=cin7_base_url,
            qbxml_version=qbxml_version,
        )

    try:
        created = run_async(with_session(work))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _print_tenant(created, as_json)


@tenant_app.command("list")
def tenant_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List tenants."""

    async def work(session: AsyncSession, _settings: AppSettings) -> Any:
        return [
            {
                "tenant_id": t.id,
                "name": t.name,
                "qbwc_username": t.qbwc_username,
                "qbxml_version": t.qbxml_version,
                "active": t.active,
            }
            for t in await list_tenants(session)
        ]

    rows = run_async(with_session(work))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no tenants yet: create one with `omni2qbd tenant create --name NAME`")
    for row in rows:
        typer.echo(f"{row['tenant_id']}  {row['qbwc_username']:<40}  {row['name']}")


@tenant_app.command("rotate-password")
def tenant_rotate_password(
    tenant: Annotated[str, typer.Argument(help="Tenant id, Web Connector user name or name")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
) -> None:
    """Give a tenant a new Web Connector password (the old one stops working)."""

    async def work(session: AsyncSession, _settings: AppSettings) -> Any:
        return await rotate_password(session, tenant, actor="cli")

    try:
        rotated = run_async(with_session(work))
    except TenantNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _print_tenant(rotated, as_json)


# Commands that live with the part they drive: (their Typer app, group name, parent). A group
# name of "" adds the app's commands to the parent itself.
MOUNTS: list[tuple[typer.Typer, str, typer.Typer]] = [
    (cin7_sim_cli.app, "cin7", sim_app),
    (quickbooks_sim_cli.app, "quickbooks", sim_app),
    (webconnector_sim_cli.app, "webconnector", sim_app),
    (fetcher_cli.app, "fetch", app),
    (settings_cli.app, "settings", app),
    (preview_cli.app, "preview", app),
    (gateway_cli.app, "", app),
    (session_commands.app, "", tenant_app),
    (demo_cli.app, "demo", app),
    (secret_key_commands.app, "secret-key", app),
    (dlq_commands.app, "dlq", app),
    (user_commands.app, "user", app),
    (tenant_commands.app, "", tenant_app),
]
for sub_app, group, parent in MOUNTS:
    if group:
        parent.add_typer(sub_app, name=group)
    else:
        parent.registered_commands.extend(sub_app.registered_commands)
# `settings set|history` (stored versions) join the mapper's `settings example|validate`.
settings_cli.app.command("set")(settings_set)
settings_cli.app.command("history")(settings_history)


def _database_problem(exc: Exception) -> str:
    url = without_credentials(AppSettings().database_url)
    text = str(getattr(exc, "orig", exc))
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return (
            f"the database {url} has no Omni2QBD tables yet (or an older schema): "
            "run `omni2qbd migrate` first"
        )
    return f"cannot use the database {url}: {text.splitlines()[0] if text else exc}"


def main() -> None:
    try:
        app()
    except DBAPIError as exc:
        # Operators get one plain line, not a driver traceback.
        typer.echo(f"error: {_database_problem(exc)}", err=True)
        raise SystemExit(2) from None
    except OSError as exc:
        if exc.errno is None or "connect" not in str(exc).lower():
            raise
        typer.echo(f"error: {_database_problem(exc)}", err=True)
        raise SystemExit(2) from None
