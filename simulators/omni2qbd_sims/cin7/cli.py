"""``omni2qbd sim cin7``: serve the Cin7 Omni simulator."""

from __future__ import annotations

import sys

import typer
import uvicorn

from omni2qbd_sims.cin7 import SimConfig, create_app, describe, generate

app = typer.Typer(help="Run the Cin7 Omni API simulator.")


@app.callback(invoke_without_command=True)
def cin7(
    port: int = typer.Option(8070, "--port", help="Port to listen on."),
    seed: int = typer.Option(1, "--seed", help="Seed of the generated data."),
    scale: float = typer.Option(1.0, "--scale", help="Data volume (1 = ~3,000 sales orders)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    no_rate_limits: bool = typer.Option(False, "--no-rate-limits", help="Turn the 429s off."),
) -> None:
    """Serve /api/v1/... like api.cin7.com, with generated accounts."""

    store = generate(seed, scale)
    config = SimConfig(rate_limits_enabled=not no_rate_limits)
    typer.echo(f"Cin7 Omni simulator on http://{host}:{port}/api/v1 (seed {seed}, scale {scale})")
    for tenant in describe(store):
        for connection in tenant["connections"]:
            typer.echo(
                f"  {tenant['company']}: username {tenant['username']}  "
                f"API key {connection['apiKey']}  ({connection['name']})"
            )
    typer.echo(f"  rate limits: {'off' if no_rate_limits else '3/s, 60/min, 5000/day per key'}")
    sys.stdout.flush()  # the keys must reach a log file or pipe before the server blocks
    uvicorn.run(create_app(store, config), host=host, port=port, log_level="warning")


if __name__ == "__main__":
    app()
