"""``omni2qbd preview --settings FILE [--format json|qbxml] [--kind K] DOC.json``.

Maps one Cin7 document (as the API returns it) without any service running and prints the
entries with their debit/credit tables, or the exact qbXML message set an import would send.
With no database, contacts and items not mapped in the settings file are treated as new.
Exit status: 0 importable, 3 held by a blocking finding, 4 not importable (not ready, void or
nothing to post), 1 unreadable input. Findings go to stderr.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from omni2qbd_mapper.cin7doc import UnknownKind
from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.preview import COGS_RULE, result_json, result_message_set
from omni2qbd_mapper.result import DocumentStatus
from omni2qbd_shared.qb_lists import QbLists
from omni2qbd_shared.tenant_settings import SettingsError, load_settings_text

EXIT_HELD = 3
EXIT_NOT_IMPORTABLE = 4

app = typer.Typer(
    help="Show the entry and qbXML a Cin7 document would become.",
    # so `preview DOC.json --settings FILE` works as well as `preview --settings FILE DOC.json`
    context_settings={"allow_interspersed_args": True},
)


class OutputFormat(StrEnum):
    JSON = "json"
    QBXML = "qbxml"


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def _load_document(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(f"{path}: cannot read the file ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise _fail(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from exc
    # A list endpoint returns a bare array; accept a one-element page.
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise _fail(f"{path}: expected one Cin7 document (a JSON object)")
    return data


@app.callback(invoke_without_command=True)
def preview(
    document: Path = typer.Argument(..., help="Cin7 document as the API returns it (JSON)"),
    settings: Path = typer.Option(..., "--settings", help="Tenant settings file (JSON)"),
    output: OutputFormat = typer.Option(OutputFormat.JSON, "--format", help="json or qbxml"),
    kind: str | None = typer.Option(None, "--kind", help="Document kind; detected when omitted"),
    qbxml_version: str | None = typer.Option(
        None, "--qbxml-version", help="13.0 or 16.0 (default: the settings file's qbxml_version)"
    ),
) -> None:
    """Map one Cin7 document and print the result."""
    try:
        tenant_settings = load_settings_text(settings.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(f"{settings}: cannot read the file ({exc.strerror})") from exc
    except SettingsError as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        raise _fail(f"{settings}: invalid settings\n{lines}") from exc
    payload = _load_document(document)
    try:
        result = map_document(kind, payload, tenant_settings, QbLists.empty())
    except (UnknownKind, ValueError) as exc:
        raise _fail(f"{document}: {exc}") from exc

    version = qbxml_version or tenant_settings.qbxml_version
    if output is OutputFormat.QBXML:
        try:
            typer.echo(result_message_set(result, version))
        except ValueError as exc:
            raise _fail(str(exc)) from exc
    else:
        typer.echo(json.dumps(result_json(result), indent=2))

    for finding in result.all_findings():
        marker = "HOLD" if finding.blocking else "note"
        typer.echo(f"[{marker}] {finding.code}: {finding.message}", err=True)
    for contribution in result.cogs:
        typer.echo(
            f"[cogs] {contribution.period}: {contribution.amount:,.2f}. {COGS_RULE}", err=True
        )
    if result.status is DocumentStatus.HELD:
        typer.echo(f"{result.document}: held until the findings marked HOLD are fixed", err=True)
        raise typer.Exit(EXIT_HELD)
    if result.status is not DocumentStatus.READY:
        typer.echo(f"{result.document}: not importable ({result.status.value})", err=True)
        raise typer.Exit(EXIT_NOT_IMPORTABLE)
