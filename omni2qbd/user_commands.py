"""``omni2qbd user``: people who sign in to the console and the JSON API."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.workflow.users import UserError, create_user, disable_user, list_users
from omni2qbd_gateway.workflow.users import reset_password as reset
from omni2qbd_shared.cli_support import TenantNotFound, run_async, with_session
from omni2qbd_shared.config import AppSettings

app = typer.Typer(help="Create and manage people who sign in to the console and API.")

ACTOR = "cli"


def _run(work: Any) -> Any:
    try:
        return run_async(with_session(work))
    except (UserError, TenantNotFound) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _print_password(created: Any, as_json: bool, what: str) -> None:
    if as_json:
        typer.echo(
            json.dumps(
                {"user_id": created.user_id, "email": created.email, "password": created.password}
            )
        )
        return
    typer.echo(f"{what} {created.email} (user id {created.user_id})")
    typer.echo(f"password: {created.password}")
    typer.echo("The password is shown only this once.")


@app.command("create")
def create(
    email: Annotated[str, typer.Option("--email", help="The person's e-mail (their sign-in)")],
    role: Annotated[str, typer.Option("--role", help="operator, bookkeeper or viewer")],
    tenant: Annotated[
        list[str] | None,
        typer.Option("--tenant", help="Tenant id, Web Connector user or name (repeatable)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
) -> None:
    """Create a user; prints a generated password once."""

    async def work(session: AsyncSession, _settings: AppSettings) -> Any:
        return await create_user(session, email=email, role=role, tenants=tenant or [], actor=ACTOR)

    _print_password(_run(work), as_json, "created")


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List users with their role and tenants."""

    async def work(session: AsyncSession, _settings: AppSettings) -> Any:
        return await list_users(session)

    rows = _run(work)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "user_id": r.user_id,
                        "email": r.email,
                        "role": r.role,
                        "tenants": r.tenants,
                        "disabled": r.disabled,
                    }
                    for r in rows
                ]
            )
        )
        return
    if not rows:
        typer.echo("no users yet: create one with `omni2qbd user create --email E --role operator`")
    for r in rows:
        state = "  (disabled)" if r.disabled else ""
        where = f"  tenants: {', '.join(r.tenants)}" if r.tenants else ""
        typer.echo(f"{r.email:<40} {r.role:<12}{where}{state}")


@app.command("disable")
def disable(
    user: Annotated[str, typer.Argument(help="E-mail or user id")],
) -> None:
    """Stop a user from signing in; their API tokens stop working at once."""

    async def work(session: AsyncSession, _settings: AppSettings) -> Any:
        return await disable_user(session, user, actor=ACTOR)

    disabled = _run(work)
    typer.echo(f"disabled {disabled.email}")


@app.command("reset-password")
def reset_password(
    user: Annotated[str, typer.Argument(help="E-mail or user id")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
) -> None:
    """Give a user a new generated password (shown once); old tokens stop working."""

    async def work(session: AsyncSession, _settings: AppSettings) -> Any:
        return await reset(session, user, actor=ACTOR)

    _print_password(_run(work), as_json, "new password for")
