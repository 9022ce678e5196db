"""``omni2qbd sim webconnector``: run Web Connector updates against a gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import typer

from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.webconnector.qwc_file import QwcFile, QwcFileError, read_qwc
from omni2qbd_sims.webconnector.report import SessionReport
from omni2qbd_sims.webconnector.simulator import WebConnectorSimulator

app = typer.Typer(help="QuickBooks Web Connector simulator (drives a gateway over SOAP).")


@app.callback(invoke_without_command=True)
def webconnector(
    url: str = typer.Option(
        "", "--url", help="The gateway's QBWC endpoint (default: AppURL of --qwc)."
    ),
    user: str = typer.Option("", "--user", help="QBWC user name (default: UserName of --qwc)."),
    password: str = typer.Option(
        ..., "--password", help="QBWC password.", envvar="OMNI2QBD_WC_PASSWORD"
    ),
    company: str = typer.Option(
        "C:\\Companies\\Demo.qbw", "--company", help="Company file open in QuickBooks."
    ),
    quickbooks: str = typer.Option(
        "",
        "--quickbooks",
        help="Base URL of a QuickBooks simulator server; default: one in this process.",
    ),
    runs: int = typer.Option(1, "--runs", min=1, help="Number of updates to run."),
    every: float = typer.Option(0.0, "--every", help="Seconds between updates."),
    seed_demo: bool = typer.Option(
        True, "--seed-demo/--no-seed-demo", help="Seed the in-process company with demo lists."
    ),
    qb_not_running: bool = typer.Option(False, "--qb-not-running", help="QuickBooks is closed."),
    wrong_company: str = typer.Option(
        "", "--wrong-company", help="Path of a different company file open in QuickBooks."
    ),
    slow: float = typer.Option(0.0, "--slow", help="Seconds QuickBooks takes per request set."),
    drop_after: int = typer.Option(
        0, "--drop-after", help="Drop the connection after QuickBooks processed set N."
    ),
    noop_pause: float = typer.Option(5.0, "--noop-pause", help="Seconds to pause on NoOp."),
    verbose: bool = typer.Option(False, "--verbose", help="Also print the qbXML exchanged."),
    qwc: Path | None = typer.Option(
        None,
        "--qwc",
        help="The tenant's .qwc file: its FileID and OwnerID are written into the company file "
        "on first connect, as the real Web Connector does.",
    ),
) -> None:
    """Run the updates and print what QBWC would show."""
    application = _read_application(qwc) if qwc is not None else None
    if application is not None:
        url, user = url or application.app_url, user or application.username
    if not url or not user:
        typer.echo("error: give --url and --user, or a --qwc file that has them", err=True)
        raise typer.Exit(2)
    simulator = WebConnectorSimulator(
        url,
        user,
        password,
        _open_company(quickbooks, company, application, seed_demo),
        company,
        quickbooks_not_running=qb_not_running,
        wrong_company_open=wrong_company or None,
        quickbooks_delay_seconds=slow,
        drop_connection_after_set=drop_after or None,
        noop_pause_seconds=noop_pause,
    )
    reports = asyncio.run(simulator.run(runs, pause_seconds=every))
    raise typer.Exit(0 if _print_reports(reports, verbose) else 1)


def _read_application(qwc: Path) -> QwcFile:
    try:
        return read_qwc(qwc)
    except QwcFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _open_company(
    quickbooks: str, company: str, application: QwcFile | None, seed_demo: bool
) -> QuickBooksSimulator | str:
    """The QuickBooks the Web Connector talks to: a simulator server's URL, or one in this
    process with the company file open. A .qwc's FileID and OwnerID go into the company file
    either way, as on an application's first connection."""
    if quickbooks:
        if application is not None:
            _connect_company(quickbooks, company, application, seed_demo)
        return quickbooks
    backend = QuickBooksSimulator()
    opened = backend.company(
        company,
        seed_demo=seed_demo,
        file_id=application.file_id if application else None,
    )
    if application is not None:
        opened.owner_id = application.owner_id
    return backend


def _print_reports(reports: list[SessionReport], verbose: bool) -> bool:
    """Print each update as QBWC shows it; True when none of them had an error."""
    failed = False
    for number, report in enumerate(reports, start=1):
        typer.echo(f"--- update {number} ---")
        typer.echo(report.summary())
        if verbose:
            for request, response in zip(report.request_sets, report.responses, strict=False):
                typer.echo(f"request:\n{request}\nresponse:\n{response}")
        failed = failed or bool(report.errors)
    return not failed


def _connect_company(quickbooks: str, company: str, application: Any, seed_demo: bool) -> None:
    """Open the company file in the QuickBooks simulator server as the Web Connector does on
    an application's first connection: created if missing, the .qwc's FileID written in."""

    url = f"{quickbooks.rstrip('/')}/companies/{quote(company, safe='')}"
    spec = {
        "file_id": application.file_id,
        "owner_id": application.owner_id,
        "seed_demo": seed_demo,
    }
    try:
        answer = httpx.put(url, json=spec, timeout=30)
    except httpx.HTTPError as exc:
        typer.echo(f"error: the QuickBooks simulator at {quickbooks} cannot be reached: {exc}")
        raise typer.Exit(2) from exc
    if answer.status_code != 200:
        typer.echo(f"error: the QuickBooks simulator refused company {company}: {answer.text}")
        raise typer.Exit(2)
