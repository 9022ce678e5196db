"""``omni2qbd tenant end-sessions TENANT``: end a tenant's live Web Connector sessions now.

Mounted under ``omni2qbd tenant`` by ``omni2qbd/cli.py`` (MOUNTS). The ended sessions'
tickets answer nothing of the tenant any more; writes they left unanswered are in doubt and
are checked against QuickBooks at the start of the next session.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.session import end_tenant_sessions
from omni2qbd_shared.cli_support import TenantNotFound, get_tenant, run_async, with_session
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.models import AuditLog

app = typer.Typer()


@app.command("end-sessions")
def end_sessions(
    tenant: Annotated[str, typer.Argument(help="Tenant id, Web Connector user name or name")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
) -> None:
    """End the tenant's live Web Connector sessions at once (e.g. a lost or stolen machine)."""

    async def work(db: AsyncSession, _settings: AppSettings) -> tuple[str, int]:
        row = await get_tenant(db, tenant)
        ended = await end_tenant_sessions(
            db, row.id, "An operator ended this tenant's Web Connector sessions."
        )
        db.add(
            AuditLog(
                tenant_id=row.id,
                actor="cli",
                action="tenant.sessions_ended",
                detail={"sessions": ended},
            )
        )
        return row.id, ended

    try:
        tenant_id, ended = run_async(with_session(work))
    except TenantNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps({"tenant_id": tenant_id, "sessions_ended": ended}))
    else:
        typer.echo(f"ended {ended} live Web Connector session(s) of tenant {tenant_id}")
