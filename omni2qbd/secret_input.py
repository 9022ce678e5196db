"""Secrets given to a command never travel on its command line, where ``ps`` shows them."""

from __future__ import annotations

import os
import sys

import typer

KEY_VARIABLE = "OMNI2QBD_CIN7_API_KEY"


def cin7_api_key_from(flag_value: str | None, from_stdin: bool, username: str | None) -> str | None:
    """The Cin7 API key from stdin (``--cin7-api-key-stdin``) or ``OMNI2QBD_CIN7_API_KEY``."""
    if flag_value is not None:
        typer.echo(
            "error: --cin7-api-key would show the key to every user of this machine (ps, shell "
            f"history); pipe it in with --cin7-api-key-stdin or set {KEY_VARIABLE}",
            err=True,
        )
        raise typer.Exit(2)
    key = sys.stdin.readline().strip() if from_stdin else os.environ.get(KEY_VARIABLE, "").strip()
    if username is not None and not key:
        typer.echo(
            "error: --cin7-username needs the Cin7 API key: pipe it in with "
            f"--cin7-api-key-stdin or set {KEY_VARIABLE}",
            err=True,
        )
        raise typer.Exit(2)
    if username is None and key:
        typer.echo("error: give --cin7-username with the Cin7 API key, or neither", err=True)
        raise typer.Exit(2)
    return key or None
