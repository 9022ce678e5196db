"""``omni2qbd sim quickbooks``: serve the QuickBooks simulator over HTTP."""

from __future__ import annotations

import typer
import uvicorn

from omni2qbd_sims.quickbooks.http_api import create_app
from omni2qbd_sims.quickbooks.simulator import QuickBooksSimulator

app = typer.Typer(help="QuickBooks Desktop simulator (qbXML over HTTP plus a control API).")


@app.callback(invoke_without_command=True)
def quickbooks(
    port: int = typer.Option(8765, "--port", help="TCP port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    seed_demo: bool = typer.Option(
        False, "--seed-demo", help="Create company 'Demo' with demo accounts, items and names."
    ),
    company: list[str] = typer.Option(
        [], "--company", help="Company name or .qbw path to create at start (repeatable)."
    ),
    edition: str = typer.Option("pro2014", "--edition", help="pro2014 or enterprise2021."),
) -> None:
    """Serve the simulator under uvicorn until interrupted."""

    sim = QuickBooksSimulator(edition=edition)
    names = list(company) or (["Demo"] if seed_demo else [])
    for name in names:
        created = sim.company(name, seed_demo=seed_demo)
        typer.echo(f"company {created.path} FileID {created.file_id}")
    typer.echo(f"QuickBooks simulator on http://{host}:{port}")
    uvicorn.run(create_app(sim), host=host, port=port, log_level="warning")
