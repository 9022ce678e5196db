"""``omni2qbd demo``: the whole product on this machine against the simulators."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from omni2qbd.demo.flow import Demo, DemoError, DemoOptions, DemoRun
from omni2qbd.demo.processes import ProcessFailed

app = typer.Typer(help="Run the whole product here against the simulators.")


@app.callback(invoke_without_command=True)
def demo(
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Print the summary and exit (0 = reconciled)")
    ] = False,
    change: Annotated[
        bool, typer.Option("--change", help="Edit a posted Cin7 order to show a re-import")
    ] = False,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where state is kept")] = Path(
        "var/demo"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the Cin7 data")] = 7,
    scale: Annotated[float, typer.Option("--scale", help="Cin7 data volume")] = 0.1,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Database (default: a SQLite file in --data-dir)"),
    ] = None,
    amqp_namespace: Annotated[
        str, typer.Option("--amqp-namespace", help="Prefix of the demo's exchanges and queues")
    ] = "demo.",
    amqp_url: Annotated[
        str, typer.Option("--amqp-url", envvar="OMNI2QBD_AMQP_URL", help="RabbitMQ")
    ] = "amqp://guest:guest@127.0.0.1:5672/",
) -> None:
    """Fetch from a simulated Cin7 Omni, map, approve, post through a simulated Web
    Connector into a simulated QuickBooks, and print what happened."""

    options = DemoOptions(
        data_dir=data_dir,
        seed=seed,
        scale=scale,
        amqp_url=amqp_url,
        change=change,
        database=database_url,
        amqp_namespace=amqp_namespace,
    )
    runner = Demo(options, say=lambda line: typer.echo(line))
    result = _run_or_exit(runner)
    typer.echo(result.summary.render())
    if no_serve:
        runner.close()
        raise typer.Exit(0 if result.summary.ok else 1)
    _print_where_to_look(result, data_dir)
    _serve_until_stopped(runner)


def _run_or_exit(runner: Demo) -> DemoRun:
    """Run the demo; whatever goes wrong, stop everything it started."""
    try:
        return asyncio.run(runner.run())
    except (DemoError, ProcessFailed) as exc:
        runner.close()
        typer.echo(f"demo failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    except BaseException:
        runner.close()
        raise


def _print_where_to_look(result: DemoRun, data_dir: Path) -> None:
    typer.echo("")
    typer.echo("Still running (Ctrl-C stops everything):")
    for name, url in result.urls.items():
        typer.echo(f"  {name:<22} {url}")
    typer.echo("  Web Connector SOAP endpoint: " + result.urls["gateway"] + "/qbwc")
    typer.echo(f"  {'JSON API':<22} {result.urls['gateway']}/api/v1 (docs at /api/v1/docs)")
    typer.echo(f"  {'console':<22} {result.urls['gateway']}/console/")
    typer.echo("Sign in with (new passwords on every run):")
    for person in result.people:
        typer.echo(f"  {person.role:<22} {person.email}  password {person.password}")
    typer.echo(
        "After Ctrl-C, `omni2qbd status` finds the demo's database in "
        f"{data_dir} (or set OMNI2QBD_DATABASE_URL)."
    )


def _serve_until_stopped(runner: Demo) -> None:
    """Keep the stack up for a person to look around, until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            runner.processes.check_alive()
    except KeyboardInterrupt:
        pass
    finally:
        typer.echo("Stopping ...")
        runner.close()
