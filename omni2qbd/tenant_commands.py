"""``omni2qbd tenant set-cin7``, and the Cin7 check ``tenant create`` runs before saving."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.workflow.cin7_check import check_credentials
from omni2qbd_gateway.workflow.tenant_admin import DEFAULT_CIN7_URL, save_cin7_credentials
from omni2qbd_shared.cin7_address import Cin7AddressRefused, refuse_unlisted
from omni2qbd_shared.cli_support import TenantNotFound, get_tenant, run_async, with_session
from omni2qbd_shared.config import AppSettings

app = typer.Typer(help="Tenant commands that talk to Cin7 Omni.")


def allowed_cin7_address_or_exit(base_url: str | None) -> None:
    """Exit 2, in words, when the Cin7 address is not on OMNI2QBD_CIN7_ALLOWED_HOSTS."""
    try:
        refuse_unlisted(base_url or DEFAULT_CIN7_URL, AppSettings().cin7_allowed_hosts)
    except Cin7AddressRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        typer.echo("error: nothing was saved", err=True)
        raise typer.Exit(2) from None


def check_cin7_or_exit(base_url: str | None, username: str, api_key: str) -> None:
    """Test Cin7 Omni credentials with one read; print the result in words, exit 2 if bad."""
    allowed_cin7_address_or_exit(base_url)
    result = run_async(
        check_credentials(
            base_url or DEFAULT_CIN7_URL,
            username,
            api_key,
            allowed_hosts=AppSettings().cin7_allowed_hosts,
        )
    )
    # On standard error, so `--json` output stays one JSON object.
    typer.echo(result.message, err=True)
    if not result.ok:
        typer.echo("error: nothing was saved", err=True)
        raise typer.Exit(2)


def _read_key() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("Cin7 Omni API key", hide_input=True)).strip()
    return sys.stdin.readline().strip()


@app.command("set-cin7")
def set_cin7(
    tenant: Annotated[str, typer.Argument(help="Tenant id, Web Connector user name or name")],
    username: Annotated[str, typer.Option("--username", help="Cin7 Omni API username")],
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Cin7 Omni API address (default: Cin7's)")
    ] = None,
) -> None:
    """Change a tenant's Cin7 Omni API user and key (the key is read from standard input,
    so it stays out of the shell history); saved only when Cin7 accepts them."""
    allowed_cin7_address_or_exit(base_url)
    api_key = _read_key()
    if not api_key:
        typer.echo("error: give the API key on standard input", err=True)
        raise typer.Exit(2)

    async def work(session: AsyncSession, settings: AppSettings) -> Any:
        row = await get_tenant(session, tenant)
        return await save_cin7_credentials(
            session,
            row.id,
            username=username,
            api_key=api_key,
            base_url=base_url,
            secret_key=settings.secret_key.get_secret_value(),
            actor="cli",
            allowed_hosts=settings.cin7_allowed_hosts,
        )

    try:
        result = run_async(with_session(work))
    except TenantNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(result.message, err=not result.ok)
    if not result.ok:
        typer.echo("error: the credentials were not saved", err=True)
        raise typer.Exit(2)
    typer.echo("saved")
