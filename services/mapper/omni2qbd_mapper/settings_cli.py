"""``omni2qbd settings example`` and ``omni2qbd settings validate FILE``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from omni2qbd_shared.tenant_settings import example_settings_json, settings_problems

app = typer.Typer(help="Tenant accounting settings: print the defaults, check a settings file.")


@app.command()
def example() -> None:
    """Print a complete settings file with every default (JSON)."""
    typer.echo(example_settings_json())


@app.command()
def validate(file: Path = typer.Argument(..., help="Settings file (JSON)")) -> None:
    """Check a settings file and explain every problem found."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        typer.echo(f"{file}: cannot read the file ({exc.strerror})", err=True)
        raise typer.Exit(1) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        typer.echo(
            f"{file}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", err=True
        )
        raise typer.Exit(1) from exc
    problems = settings_problems(data)
    if problems:
        typer.echo(f"{file}: {len(problems)} problem(s)", err=True)
        for problem in problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{file}: settings are valid")
