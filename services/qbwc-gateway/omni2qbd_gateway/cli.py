"""Operator commands of the gateway: ``approve``, ``status`` and ``qwc`` (top level of
``omni2qbd``; the lead's CLI copies each command registered here)."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.engine import make_url
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.outbox import StatusRow, status_rows
from omni2qbd_gateway.qwc import QwcError, build_qwc
from omni2qbd_gateway.status_report import status_report
from omni2qbd_gateway.tenants import list_tenants
from omni2qbd_gateway.workflow import approval
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_mapper.cogs_status import cogs_status, describe_cogs_status
from omni2qbd_shared.cli_support import TenantNotFound, get_tenant, load_settings, with_session
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.models import Tenant
from omni2qbd_shared.dead_letters import dead_letter_lines

T = TypeVar("T")

app = typer.Typer(help="QuickBooks Web Connector gateway commands.")


DEMO_DATABASE = Path("var/demo/omni2qbd.db")


def _settings() -> AppSettings:
    return _demo_database_if_none(load_settings())


def _demo_database_if_none(settings: AppSettings) -> AppSettings:
    """With no database configured and none at the default place, use the one
    `omni2qbd demo` left here (saying so); with neither, say how to point at one."""
    if "database_url" in settings.model_fields_set:
        return settings
    default = make_url(settings.database_url).database or ""
    if default and Path(default).exists():
        return settings
    if DEMO_DATABASE.exists():
        url = f"sqlite+aiosqlite:///{DEMO_DATABASE.resolve()}"
        typer.echo(
            f"(using the demo's database {DEMO_DATABASE}; set OMNI2QBD_DATABASE_URL for another)",
            err=True,
        )
        return settings.model_copy(update={"database_url": url})
    typer.echo(
        f"error: there is no database at {default or settings.database_url}: set "
        "OMNI2QBD_DATABASE_URL to yours (after `omni2qbd demo`, it is "
        f"sqlite+aiosqlite:///{DEMO_DATABASE}), or create one with `omni2qbd migrate`",
        err=True,
    )
    raise typer.Exit(2)


def _run(
    work: Callable[[AsyncSession, AppSettings], Awaitable[T]], *, read_only: bool = False
) -> T:
    settings = _settings()

    try:
        return asyncio.run(with_session(work, settings, read_only=read_only))
    except (TenantNotFound, QwcError, approval.ActionRefused) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command("approve")
def approve_command(
    tenant: Annotated[str, typer.Argument(help="Tenant id, Web Connector user name or name")],
    entry_ids: Annotated[list[str] | None, typer.Argument(help="Entry ids to approve")] = None,
    all_ready: Annotated[
        bool, typer.Option("--all", help="Approve every entry that is ready")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who approves (default: your login name)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Approve entries for import into QuickBooks: the next Web Connector run sends them.
    A new customer or vendor an entry needs is approved with it."""
    if all_ready == bool(entry_ids):
        typer.echo("error: give either --all or one or more ENTRY_IDs", err=True)
        raise typer.Exit(2)
    actor = (by or getpass.getuser()).strip()

    async def work(session: AsyncSession, _settings: AppSettings) -> Any:
        row = await get_tenant(session, tenant)
        scope = TenantScope(row.id, actor)
        if all_ready:
            return await approval.approve(session, scope, all_ready=True)
        return await approval.approve(session, scope, entry_ids=entry_ids)

    result = _run(work)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "approved": [a.id for a in result.approved],
                    "dependencies": [d.id for d in result.dependencies],
                    "skipped": {r.id: r.reason for r in result.refused},
                }
            )
        )
    else:
        typer.echo(f"approved {len(result.approved)} entries as {actor}")
        for dependency in result.dependencies:
            typer.echo(f"  with the {dependency.label}, which they need")
        for refused in result.refused:
            typer.echo(f"not approved {refused.id}: {refused.reason}")
    if result.refused and not result.approved:
        raise typer.Exit(1)


@app.command("status")
def status_command(
    tenant: Annotated[
        str | None,
        typer.Argument(help="Tenant id, Web Connector user name or name (optional with one)"),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Every entry version, history included")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """A tenant's entries by state and kind, and every entry that needs a person."""

    dead: list[str] = []  # dead-lettered documents of this tenant, by name with the reason

    async def work(session: AsyncSession, settings: AppSettings) -> Any:
        row = await _only_or_named_tenant(session, tenant)
        dead.extend(await dead_letter_lines(settings, row.id))
        cogs_months = await cogs_status(session, row.id)
        if show_all:
            return row.name, await status_rows(session, row.id), cogs_months
        return row.name, await status_report(session, row.id, row.name), cogs_months

    name, found, cogs_months = _run(work, read_only=True)  # SQLite: never waits for a writer
    if dead and not as_json:
        typer.echo(f"DEAD-LETTERED ({len(dead)}): see `omni2qbd dlq list`\n" + "\n".join(dead))
    if as_json:
        typer.echo(json.dumps([_row_json(r) for r in found] if show_all else found.as_json()))
        return
    if show_all:
        _echo_history(name, found)
    else:
        typer.echo("\n".join(found.render()))
    for line in describe_cogs_status(cogs_months):  # COGS follows the revenue (docs/mapper.md)
        typer.echo(line)


def _row_json(r: StatusRow) -> dict[str, Any]:
    return {
        "entry_id": r.entry_id,
        "state": r.state,
        "entry_kind": r.entry_kind,
        "source": r.source,
        "ref_number": r.ref_number,
        "approved_by": r.approved_by,
        "approved_at": r.approved_at.isoformat() if r.approved_at else None,
        "status_code": r.status_code,
        "status_message": r.status_message,
        "txn_id": r.txn_id,
        "edit_sequence": r.edit_sequence,
        "txn_number": r.txn_number,
    }


def _echo_history(name: str, rows: list[StatusRow]) -> None:
    """Every entry version under a heading per state (``status --all``)."""
    if not rows:
        typer.echo(f"{name}: no entries yet")
    current: str | None = None
    for r in rows:
        if r.state != current:
            current = r.state
            count = sum(1 for x in rows if x.state == current)
            typer.echo(f"\n{current.upper()} ({count})")
        typer.echo(_row_line(r))


def _row_line(r: StatusRow) -> str:
    qb = f" TxnID {r.txn_id}" if r.txn_id else ""
    code = f" [{r.status_code}]" if r.status_code else ""
    outcome = f"{code} {r.status_message}" if r.status_message else code
    who = f" approved by {r.approved_by}" if r.approved_by else ""
    return (
        f"  {r.entry_id}  {r.entry_kind:<13} {r.ref_number or '-':<12} {r.source}{who}{qb}{outcome}"
    )


async def _only_or_named_tenant(session: AsyncSession, tenant: str | None) -> Tenant:
    if tenant is not None:
        return await get_tenant(session, tenant)
    tenants = await list_tenants(session)
    if len(tenants) == 1:
        return tenants[0]
    names = ", ".join(repr(t.name) for t in tenants) or "none yet"
    raise TenantNotFound(f"name the tenant: `omni2qbd status TENANT` (tenants: {names})")


@app.command("qwc")
def qwc_command(
    tenant: Annotated[str, typer.Argument(help="Tenant id, Web Connector user name or name")],
    run_every_minutes: Annotated[int, typer.Option("--every", help="Scheduler minutes")] = 15,
) -> None:
    """Print the tenant's .qwc file (add it to the QuickBooks Web Connector)."""

    async def work(session: AsyncSession, settings: AppSettings) -> str:
        row = await get_tenant(session, tenant)
        return build_qwc(row, settings.gateway_public_url, run_every_minutes=run_every_minutes)

    typer.echo(_run(work), nl=False)
