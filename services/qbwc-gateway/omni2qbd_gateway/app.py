"""The qbwc-gateway service: the Web Connector SOAP endpoint, the .qwc download, the
``qb.entries`` consumer and the publisher of results and list changes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import secrets as pysecrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from omni2qbd_gateway import login_throttle, repository, retention
from omni2qbd_gateway.api import mount_api
from omni2qbd_gateway.console import mount_console
from omni2qbd_gateway.http_guard import guarded_protocol
from omni2qbd_gateway.outbox import upsert_entry
from omni2qbd_gateway.pending import PendingPublisher
from omni2qbd_gateway.plan import Limits
from omni2qbd_gateway.protocol import GatewayOptions, QbwcService
from omni2qbd_gateway.qwc import build_qwc, endpoint_url, qwc_filename
from omni2qbd_gateway.reader import LoneReader, create_reader
from omni2qbd_gateway.session import SetSizing
from omni2qbd_gateway.soap import (
    SOAP11_NS,
    SoapFault,
    content_type,
    fault_envelope,
    parse_call,
    response_envelope,
)
from omni2qbd_gateway.wsdl import build_wsdl
from omni2qbd_shared import messages as m
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.messaging import Consumer
from omni2qbd_shared.service import ServiceRuntime, create_service_app

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


SOAP_CALLS = Counter(
    "omni2qbd_qbwc_calls_total", "Web Connector SOAP calls", ["operation", "outcome"]
)
SOAP_SECONDS = Histogram(
    "omni2qbd_qbwc_call_seconds", "Time to answer a Web Connector SOAP call", ["operation"]
)
SWEEP_SECONDS = 60.0


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
        assert rt.connection is not None and rt.sessions is not None
        consumer = Consumer(
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


def _soap_response(body: bytes, soap_ns: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=content_type(soap_ns))


class BodyTooLarge(Exception):
    pass


async def _read_capped(request: Request, limit: int, seconds: float) -> bytes:
    """The whole body, at most ``limit`` bytes, arrived within ``seconds`` (a client sending
    part of a body and then nothing must not hold a connection open); raises
    ``BodyTooLarge``, ``TimeoutError`` or ``ClientDisconnect``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(seconds):
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: AppSettings) -> FastAPI:
    runtime = create_runtime(settings)
    app = create_service_app(runtime)
    mount_api(app, runtime)
    mount_console(app, runtime, settings)
    limit = settings.gateway_max_soap_bytes
    # Read by omni2qbd.serve: the HTTP protocol with the gateway's head limits.
    app.state.uvicorn_options = {
        "http": guarded_protocol(settings.gateway_request_read_seconds),
        "forwarded_allow_ips": settings.gateway_forwarded_allow_ips,
    }

    @app.get("/qbwc")
    async def wsdl(request: Request) -> Response:
        if "wsdl" not in {key.lower() for key in request.query_params}:
            return PlainTextResponse(
                "Omni2QBD QuickBooks Web Connector endpoint. POST SOAP here; the WSDL is at ?wsdl.",
            )
        return Response(
            build_wsdl(endpoint_url(settings.gateway_public_url)),
            media_type="text/xml; charset=utf-8",
        )

    async def soap_call(request: Request) -> Response:
        try:
            body = await _read_capped(request, limit, settings.gateway_request_read_seconds)
        except BodyTooLarge:
            fault = SoapFault(f"the request is larger than the {limit} bytes this service accepts")
            return _soap_response(fault_envelope(fault), SOAP11_NS, 500)
        except TimeoutError:
            log.info("qbwc_request_too_slow", seconds=settings.gateway_request_read_seconds)
            return PlainTextResponse(
                "the request body did not arrive in time", 408, headers={"Connection": "close"}
            )
        except ClientDisconnect:
            # One line, not a traceback: a Web Connector closed or a network dropped.
            log.info("qbwc_client_disconnected")
            return Response(status_code=400)
        try:
            call = parse_call(body, max_bytes=limit)
        except SoapFault as fault:
            SOAP_CALLS.labels("unknown", "fault").inc()
            return _soap_response(fault_envelope(fault), SOAP11_NS, 500)
        if request.client is not None:
            call = dataclasses.replace(call, client=request.client.host)
        operation = call.operation.name
        try:
            with SOAP_SECONDS.labels(operation).time():
                result = await parts(runtime).service.handle(call)
        except SoapFault as fault:
            SOAP_CALLS.labels(operation, "fault").inc()
            return _soap_response(fault_envelope(fault, call.soap_ns), call.soap_ns, 500)
        except Exception:
            SOAP_CALLS.labels(operation, "error").inc()
            reference = pysecrets.token_hex(6)
            log.exception("qbwc_call_failed", operation=call.operation.name, reference=reference)
            failure = SoapFault(
                f"the gateway could not complete {call.operation.name} (reference {reference}); "
                "the update can simply be run again",
                "Server",
            )
            return _soap_response(fault_envelope(failure, call.soap_ns), call.soap_ns, 500)
        SOAP_CALLS.labels(operation, "ok").inc()
        return _soap_response(response_envelope(call, result), call.soap_ns)

    @app.post("/qbwc")
    async def qbwc(request: Request) -> Response:
        # Reached only when the fast path below is bypassed (it answers POST /qbwc first).
        return await soap_call(request)

    app.add_middleware(SoapFastPath, endpoint=soap_call)

    @app.get("/support")
    async def support() -> PlainTextResponse:
        return PlainTextResponse(
            "Omni2QBD support: this service posts reviewed Cin7 Omni documents into "
            "QuickBooks Desktop through the QuickBooks Web Connector. Contact your Omni2QBD "
            "administrator for help with this connection."
        )

    @app.get("/console/tenants/{tenant_id}/qwc")
    async def console_qwc(tenant_id: str, request: Request) -> Response:
        """The tenant's .qwc file; HTTP Basic with that tenant's Web Connector credentials."""
        assert runtime.sessions is not None
        credentials = _basic_credentials(request)
        if credentials is None:
            raise HTTPException(
                401,
                "log in with the tenant's Web Connector user name and password",
                headers={"WWW-Authenticate": 'Basic realm="omni2qbd console"'},
            )
        username, password = credentials
        client = request.client.host if request.client is not None else None
        attempt = login_throttle.Attempt("qbwc", username[:100], client)
        async with unit_of_work(runtime.sessions) as db:
            reservation = await login_throttle.reserve(db, attempt)
            tenant = await repository.tenant_by_username(db, username)
        if reservation.refusal is not None:
            raise HTTPException(
                429,
                reservation.refusal.message,
                headers={"Retry-After": str(reservation.refusal.retry_after)},
            )
        # Argon2 outside the transaction: it holds no database lock while it runs.
        if not await repository.verify_tenant_password(tenant, password):
            tenant = None
        else:
            assert tenant is not None
            renewed_hash = await repository.renewed_password_hash(tenant, password)
            async with unit_of_work(runtime.sessions) as db:
                await login_throttle.succeeded(db, reservation)
                if renewed_hash is not None:
                    await repository.store_renewed_password_hash(db, tenant, renewed_hash)
        if tenant is None:
            raise HTTPException(
                401,
                "wrong user name or password",
                headers={"WWW-Authenticate": 'Basic realm="omni2qbd console"'},
            )
        if tenant.id != tenant_id:
            # The same answer as for a tenant that does not exist: nothing about B leaks to A.
            raise HTTPException(404, "no such tenant")
        return Response(
            build_qwc(tenant, settings.gateway_public_url),
            media_type="application/x-qwc",
            headers={"Content-Disposition": f'attachment; filename="{qwc_filename(tenant)}"'},
        )

    return app


class SoapFastPath:
    """POST /qbwc goes straight to the SOAP endpoint, ahead of FastAPI's routing (the API
    and console add ~100 routes) and its request handling: the Web Connector's calls are the
    gateway's hottest path, and that machinery cost more CPU per call than answering
    getLastError itself. The endpoint catches everything and answers in SOAP; anything else
    goes on to the app as before."""

    def __init__(self, app: ASGIApp, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/qbwc":
            response = await self.endpoint(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None
