"""The qbwc-gateway service: the Web Connector SOAP endpoint, the .qwc download, the
``qb.entries`` consumer and the publisher of results and list changes.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from omni2qbd_gateway import retention
from omni2qbd_gateway.api import mount_api
from omni2qbd_gateway.console import mount_console
from omni2qbd_gateway.http_guard import guarded_protocol
from omni2qbd_gateway.outbox import upsert_entries, upsert_entry
from omni2qbd_gateway.pending import PendingPublisher
from omni2qbd_gateway.plan import Limits
from omni2qbd_gateway.protocol import GatewayOptions, QbwcService
from omni2qbd_gateway.qwc_download import register_qwc_pages
from omni2qbd_gateway.reader import LoneReader, create_reader
from omni2qbd_gateway.session import SetSizing
from omni2qbd_gateway.soap_endpoint import register_soap_endpoint
from omni2qbd_shared import messages as m
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.db.planner_statistics import PlannerStatistics
from omni2qbd_shared.service import ServiceRuntime, create_service_app
from omni2qbd_shared.tenant_batching import TenantBatchingConsumer

log = structlog.get_logger(__name__)

ENTRIES_QUEUE = "gateway.qb-entries"


def options_from(settings: AppSettings) -> GatewayOptions:
    return GatewayOptions(
        public_url=settings.gateway_public_url,
        session_timeout=timedelta(seconds=settings.gateway_session_timeout_seconds),
        limits=Limits(settings.gateway_batch_max_requests, settings.gateway_batch_max_bytes),
        max_soap_bytes=settings.gateway_max_soap_bytes,
        sizing=SetSizing(
            initial=settings.gateway_batch_max_requests,
            cap=max(settings.gateway_batch_max_requests, settings.gateway_set_max_requests),
            target=timedelta(seconds=settings.gateway_set_target_seconds),
        ),
        takeover_after=timedelta(seconds=settings.gateway_takeover_after_seconds),
    )


SWEEP_SECONDS = 60.0


class BatchingEntriesConsumer(TenantBatchingConsumer[m.EntryMessage]):
    """``qb.entries``: a tenant's waiting entries stored in one transaction
    (``outbox.upsert_entries``, at most ``gateway_prefetch`` per batch), acknowledged after
    its commit; a failing batch is handled one by one (``upsert_entry``)."""

    message_type = m.EntryMessage


@dataclass
class GatewayParts:
    """What the gateway adds to the shared runtime (created once the database is up)."""

    service: QbwcService
    pending: PendingPublisher
    reader: LoneReader | None = None
    sweeper: asyncio.Task[None] | None = None
    web_connector_engine: AsyncEngine | None = None


async def _sweep(service: QbwcService, retention_days: int = 0) -> None:
    """Expire abandoned sessions once a minute (any replica may do it; it is idempotent)."""
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            await retention.sweep_requests(service.sessions_factory, retention_days)
            expired = await service.expire_stale_sessions()
            if expired:
                log.info("qbwc_sessions_expired", count=expired)
        except Exception as exc:
            log.warning("qbwc_sweep_failed", error=f"{type(exc).__name__}: {exc}")


@dataclass
class GatewayRuntime(ServiceRuntime):
    gateway_parts: GatewayParts | None = None


def create_runtime(settings: AppSettings) -> GatewayRuntime:
    runtime = GatewayRuntime(name="gateway", settings=settings)

    async def start_consumer(rt: ServiceRuntime) -> None:
        assert isinstance(rt, GatewayRuntime)
        assert rt.connection is not None and rt.sessions is not None and rt.engine is not None
        consumer = BatchingEntriesConsumer(
            batch_handler=upsert_entries,
            max_batch=settings.gateway_prefetch,
            # Arriving entries fill the outbox, which planning and approvals read back.
            statistics=PlannerStatistics(rt.engine, ("outbox",)),
            connection=rt.connection,
            topology=rt.topology,
            queue_name=ENTRIES_QUEUE,
            model=m.EntryMessage,
            handler=upsert_entry,
            sessions=rt.sessions,
            prefetch=settings.gateway_prefetch,
            max_retries=settings.message_max_retries,
            transient_retry_max_seconds=settings.message_transient_retry_max_seconds,
        )
        await consumer.start()
        rt.consumers.append(consumer)
        parts(rt).pending.poke()

    async def stop_consumer(rt: ServiceRuntime) -> None:
        assert isinstance(rt, GatewayRuntime)
        for consumer in rt.consumers:
            await consumer.stop()
        if rt.gateway_parts is not None:
            if rt.gateway_parts.sweeper is not None:
                rt.gateway_parts.sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await rt.gateway_parts.sweeper
            await rt.gateway_parts.pending.stop()
            if rt.gateway_parts.reader is not None:
                await rt.gateway_parts.reader.close()
            if rt.gateway_parts.web_connector_engine is not None:
                await rt.gateway_parts.web_connector_engine.dispose()

    runtime.on_ready.append(start_consumer)
    runtime.on_stop.append(stop_consumer)
    return runtime


def parts(runtime: GatewayRuntime) -> GatewayParts:
    """The gateway's parts, built on first use (the database engine exists by then)."""
    if runtime.gateway_parts is not None:
        return runtime.gateway_parts
    assert runtime.sessions is not None, "the runtime has not started"
    pending = PendingPublisher(runtime.sessions, lambda: runtime.publisher)
    reader = create_reader(runtime.settings.database_url)
    sessions, own_engine = runtime.sessions, None
    if runtime.settings.is_sqlite:
        # On SQLite a process has one connection, and its transactions queue for it in
        # order. The Web Connector waits for every answer (and gives up after its timeout);
        # the entries consumer does not. Its calls get a connection of their own instead of
        # queueing behind up to ``gateway_prefetch`` consumer transactions.
        own_engine = create_engine(runtime.settings.database_url, pool_size=1)
        sessions = session_factory(own_engine)
    service = QbwcService(
        sessions,
        options_from(runtime.settings),
        serialise_writes=runtime.settings.is_sqlite,
        after_commit=pending.poke,
        reader=reader,
    )
    created = GatewayParts(service, pending, reader=reader, web_connector_engine=own_engine)
    runtime.gateway_parts = created
    pending.start()
    retention_days = runtime.settings.gateway_request_retention_days
    created.sweeper = asyncio.create_task(
        _sweep(service, retention_days), name="gateway-session-sweeper"
    )
    return created


def create_app(settings: AppSettings) -> FastAPI:
    runtime = create_runtime(settings)
    app = create_service_app(runtime)
    mount_api(app, runtime)
    mount_console(app, runtime, settings)
    # Read by omni2qbd.serve: the HTTP protocol with the gateway's head limits.
    app.state.uvicorn_options = {
        "http": guarded_protocol(settings.gateway_request_read_seconds),
        "forwarded_allow_ips": settings.gateway_forwarded_allow_ips,
    }
    register_soap_endpoint(app, settings, lambda: parts(runtime).service)
    register_qwc_pages(app, runtime, settings)
    return app
