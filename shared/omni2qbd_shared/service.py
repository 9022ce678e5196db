"""What every service shares: its runtime (database, broker), health endpoints and metrics.

A service starts even when the database or broker is down: ``/livez`` answers, ``/readyz``
answers 503 naming what is unreachable, and the broker connection is retried in the
background until it succeeds. Work starts only once both are up. Later outages are survived
the same way: aio-pika's robust connection reconnects and re-declares the consumers, and
``/readyz`` says ``broker`` for as long as any consumer of the service cannot consume.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.config import AppSettings, without_credentials
from omni2qbd_shared.db.engine import READ_ONLY, create_engine, session_factory
from omni2qbd_shared.logging import configure_logging
from omni2qbd_shared.messaging import Consumer, Publisher, Topology, connect, ensure_topology

log = structlog.get_logger(__name__)

READY = Gauge("omni2qbd_ready", "1 when the service's dependencies are reachable", ["service"])

Check = Callable[[], Awaitable[str | None]]
Hook = Callable[["ServiceRuntime"], Awaitable[None]]


@dataclass
class ServiceRuntime:
    """Connections one service process holds, plus the hooks that start its own work."""

    name: str
    settings: AppSettings
    topology: Topology = field(default_factory=Topology)  # see __post_init__
    on_ready: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)
    extra_checks: dict[str, Check] = field(default_factory=dict)
    needs_broker: bool = True
    broker_retry_seconds: float = 2.0
    # The service's consumers, registered by its start hook; /readyz asks each one.
    consumers: list[Consumer] = field(default_factory=list)

    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    connection: AbstractRobustConnection | None = None
    publisher: Publisher | None = None
    _starter: asyncio.Task[None] | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if not self.topology.namespace:
            self.topology = Topology(
                namespace=self.settings.amqp_namespace,
                retry_delay_ms=self.settings.message_retry_delay_ms,
            )

    async def start(self) -> None:
        self.engine = create_engine(
            self.settings.database_url,
            pool_size=self.settings.database_pool_size,
            max_overflow=self.settings.database_max_overflow,
        )
        self.sessions = session_factory(self.engine)
        self._starter = asyncio.create_task(self._start_work(), name=f"{self.name}-start")

    async def _start_work(self) -> None:
        if self.needs_broker:
            while self.connection is None:
                try:
                    self.connection = await asyncio.wait_for(
                        connect(self.settings.amqp_url), timeout=10
                    )
                except (OSError, TimeoutError, ConnectionError, Exception) as exc:
                    log.warning("broker_unreachable", service=self.name, error=str(exc))
                    await asyncio.sleep(self.broker_retry_seconds)
            await ensure_topology(self.connection, self.topology)
            self.publisher = await Publisher.open(self.connection, self.topology)
        for hook in self.on_ready:
            await hook(self)
        self.started.set()
        log.info("service_started", service=self.name)

    async def stop(self) -> None:
        if self._starter is not None and not self._starter.done():
            self._starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starter
        for hook in reversed(self.on_stop):
            try:
                await hook(self)
            except Exception:
                log.exception("stop_hook_failed", service=self.name)
        if self.publisher is not None:
            with contextlib.suppress(Exception):
                await self.publisher.close()
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close()
        if self.engine is not None:
            await self.engine.dispose()
        log.info("service_stopped", service=self.name)

    async def check_database(self) -> str | None:
        if self.engine is None:
            return "not started"
        try:
            async with asyncio.timeout(3):
                async with self.engine.connect() as connection:
                    # A health check must not queue behind SQLite's writer.
                    await connection.execution_options(**{READ_ONLY: True})
                    await connection.execute(text("SELECT 1"))
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
        return None

    async def check_broker(self) -> str | None:
        if not self.needs_broker:
            return None
        where = without_credentials(self.settings.amqp_url)
        if self.connection is None or self.connection.is_closed:
            return f"cannot connect to RabbitMQ at {where}"
        # A robust connection is not "closed" while it reconnects; it is just not connected.
        connected = getattr(self.connection, "connected", None)
        if connected is not None and not connected.is_set():
            return f"lost the connection to RabbitMQ at {where}; reconnecting"
        problems = [why for why in (c.consuming for c in self.consumers) if why]
        return "; ".join(problems)[:300] if problems else None

    async def readiness(self) -> dict[str, str]:
        """Failed checks by name, with why; empty when ready."""
        checks: dict[str, Check] = {
            "database": self.check_database,
            "broker": self.check_broker,
            **self.extra_checks,
        }
        results = await asyncio.gather(*(check() for check in checks.values()))
        failures = {name: why for name, why in zip(checks, results, strict=True) if why}
        if not failures and not self.started.is_set():
            failures["startup"] = "still starting"
        return failures


def create_service_app(runtime: ServiceRuntime, *, title: str | None = None) -> FastAPI:
    """A FastAPI app with /livez, /readyz and /metrics whose lifespan runs ``runtime``."""
    configure_logging(runtime.settings.log_level, runtime.settings.log_json)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    # The interactive docs describe every endpoint to whoever reaches the port: development only.
    public_docs = runtime.settings.environment != "production"
    app = FastAPI(
        title=title or f"omni2qbd {runtime.name}",
        lifespan=lifespan,
        docs_url="/docs" if public_docs else None,
        redoc_url="/redoc" if public_docs else None,
        openapi_url="/openapi.json" if public_docs else None,
    )
    app.state.runtime = runtime

    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        failures = await runtime.readiness()
        READY.labels(runtime.name).set(0 if failures else 1)
        if failures:
            return JSONResponse(
                {"status": "unavailable", "service": runtime.name, "failed": failures},
                status_code=503,
            )
        return JSONResponse({"status": "ready", "service": runtime.name})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
