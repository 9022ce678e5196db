"""``omni2qbd dlq list|replay|discard``: the dead-letter queues, by name and reason.

A message lands in a DLQ when it can never succeed as it is (an unreadable body, an unknown
tenant, a document the mapper refuses) or kept failing after its retries. Fix the cause, then
replay it (it goes back to the queue it came from) or discard it (recorded in the audit log).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from omni2qbd_shared.cli_support import database_session, load_settings
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.models import AuditLog
from omni2qbd_shared.dead_letters import DeadLetter, list_dead_letters, settle

app = typer.Typer(help="Dead-lettered messages: list them with the reason, replay or discard.")

TenantOption = Annotated[str | None, typer.Option("--tenant", help="Only this tenant id")]
AllOption = Annotated[bool, typer.Option("--all", help="Every dead letter (of --tenant)")]
Ids = Annotated[list[str] | None, typer.Argument(help="Message ids from `omni2qbd dlq list`")]


def line(dead: DeadLetter) -> str:
    when = f" at {dead.dead_lettered_at}" if dead.dead_lettered_at else ""
    tenant = dead.tenant_id or "tenant unknown"
    return f"{dead.message_id}  {dead.what} [{tenant}]{when}\n    reason: {dead.reason}"


@app.command("list")
def dlq_list(
    tenant: TenantOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Every dead-lettered message with its reason (nothing is taken out of the queues)."""
    found = asyncio.run(list_dead_letters(load_settings(), tenant))
    if as_json:
        typer.echo(json.dumps([dead.as_json() for dead in found]))
        return
    if not found:
        typer.echo("no dead-lettered messages")
        return
    for dead in found:
        typer.echo(line(dead))


def _settle(ids: list[str] | None, every: bool, tenant: str | None, *, replay: bool) -> None:
    if not ids and not every:
        typer.echo("error: give message ids (see `omni2qbd dlq list`) or --all", err=True)
        raise typer.Exit(2)
    settings = load_settings()
    chosen = None if every else set(ids or [])
    done = asyncio.run(settle(settings, chosen, replay=replay, tenant_id=tenant))
    asyncio.run(_audit(settings, done, "dlq_replayed" if replay else "dlq_discarded"))
    verb = "replayed" if replay else "discarded"
    for dead in done:
        typer.echo(f"{verb} {dead.message_id}  {dead.what}")
    missing = (chosen or set()) - {dead.message_id for dead in done}
    for message_id in sorted(missing):
        typer.echo(f"error: no dead letter {message_id}", err=True)
    if missing:
        raise typer.Exit(1)


async def _audit(settings: AppSettings, done: list[DeadLetter], action: str) -> None:
    if not done:
        return
    async with database_session(settings) as session:
        for dead in done:
            session.add(
                AuditLog(
                    tenant_id=dead.tenant_id,
                    actor="cli",
                    action=action,
                    subject=dead.message_id[:200],
                    detail={"what": dead.what, "queue": dead.queue, "reason": dead.reason},
                )
            )


@app.command("replay")
def dlq_replay(ids: Ids = None, every: AllOption = False, tenant: TenantOption = None) -> None:
    """Put dead letters back on the queue they came from (their retries start again)."""
    _settle(ids, every, tenant, replay=True)


@app.command("discard")
def dlq_discard(ids: Ids = None, every: AllOption = False, tenant: TenantOption = None) -> None:
    """Drop dead letters for good (each is recorded in the audit log with its reason)."""
    _settle(ids, every, tenant, replay=False)
