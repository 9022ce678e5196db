"""``omni2qbd secret-key``: a new key; ``omni2qbd secret-key rotate``: re-encrypt with it."""

from __future__ import annotations

import asyncio

import typer
from sqlmodel import select

from omni2qbd_shared import secrets
from omni2qbd_shared.cli_support import database_session, load_settings
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.models import AuditLog, Cin7Credential

app = typer.Typer(
    help="Print a new random OMNI2QBD_SECRET_KEY, or re-encrypt stored secrets (rotate).",
    invoke_without_command=True,
)


@app.callback()
def secret_key(context: typer.Context) -> None:
    """Print a new random secret key for OMNI2QBD_SECRET_KEY."""
    if context.invoked_subcommand is None:
        typer.echo(secrets.new_secret_key())


async def rotate_all(settings: AppSettings) -> tuple[int, int, list[str]]:
    """Re-encrypt every stored secret with the ring's first key: (rotated, current, problems)."""
    ring = settings.secret_key.get_secret_value()
    current_id = secrets.key_id(secrets.key_ring(ring)[0])
    rotated, already, problems = 0, 0, []
    async with database_session(settings) as session:
        for credential in (await session.exec(select(Cin7Credential))).all():
            if not secrets.needs_rotation(ring, credential.api_key_encrypted):
                already += 1
                continue
            try:
                plain = secrets.decrypt(ring, credential.api_key_encrypted)
            except secrets.SecretDecryptionError as exc:
                problems.append(f"tenant {credential.tenant_id}, Cin7 API key: {exc}")
                continue
            credential.api_key_encrypted = secrets.encrypt(ring, plain)
            session.add(credential)
            rotated += 1
        session.add(
            AuditLog(
                actor="cli",
                action="secret_key_rotated",
                subject=current_id,
                detail={"rotated": rotated, "unreadable": len(problems)},
            )
        )
    return rotated, already, problems


@app.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored secret with the first key of OMNI2QBD_SECRET_KEY.

    Put the new key first and keep the old one after it (NEW,OLD), run this, then remove OLD.
    """
    settings = load_settings()
    rotated, already, problems = asyncio.run(rotate_all(settings))
    current = secrets.key_id(secrets.key_ring(settings.secret_key.get_secret_value())[0])
    typer.echo(f"re-encrypted {rotated} secret(s) with key {current}; {already} already used it")
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        typer.echo(
            "error: those secrets keep their old encryption; add the key they name to "
            "OMNI2QBD_SECRET_KEY and run this again",
            err=True,
        )
        raise typer.Exit(1)
    if rotated or already:
        typer.echo(
            "every stored secret now uses that key: older keys can leave OMNI2QBD_SECRET_KEY"
        )
