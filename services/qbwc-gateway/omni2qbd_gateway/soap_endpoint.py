"""The Web Connector's endpoint at ``/qbwc``: SOAP calls by POST (answered ahead of FastAPI's
routing by ``SoapFastPath``), the WSDL and a line of words by GET.

``register_soap_endpoint(app, settings, service)`` is what the gateway app calls; ``service``
returns the ``QbwcService`` when a call arrives (it is built once the database is up).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets as pysecrets
from collections.abc import Awaitable, Callable

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import Counter, Histogram
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from omni2qbd_gateway.protocol import QbwcService
from omni2qbd_gateway.qwc import endpoint_url
from omni2qbd_gateway.soap import (
    SOAP11_NS,
    Call,
    SoapFault,
    content_type,
    fault_envelope,
    parse_call,
    response_envelope,
)
from omni2qbd_gateway.wsdl import build_wsdl
from omni2qbd_shared.config import AppSettings

log = structlog.get_logger(__name__)

SOAP_CALLS = Counter(
    "omni2qbd_qbwc_calls_total", "Web Connector SOAP calls", ["operation", "outcome"]
)
SOAP_SECONDS = Histogram(
    "omni2qbd_qbwc_call_seconds", "Time to answer a Web Connector SOAP call", ["operation"]
)

Endpoint = Callable[[Request], Awaitable[Response]]


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


async def _body_or_refusal(request: Request, limit: int, seconds: float) -> bytes | Response:
    """The request's body, or the answer that refuses it (too large, too slow, gone)."""
    try:
        return await _read_capped(request, limit, seconds)
    except BodyTooLarge:
        fault = SoapFault(f"the request is larger than the {limit} bytes this service accepts")
        return _soap_response(fault_envelope(fault), SOAP11_NS, 500)
    except TimeoutError:
        log.info("qbwc_request_too_slow", seconds=seconds)
        return PlainTextResponse(
            "the request body did not arrive in time", 408, headers={"Connection": "close"}
        )
    except ClientDisconnect:
        # One line, not a traceback: a Web Connector closed or a network dropped.
        log.info("qbwc_client_disconnected")
        return Response(status_code=400)


async def _answer(call: Call, service: Callable[[], QbwcService]) -> Response:
    """The service's answer to one parsed call, counted and timed; every failure is a Fault."""
    operation = call.operation.name
    try:
        with SOAP_SECONDS.labels(operation).time():
            result = await service().handle(call)
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


def soap_endpoint(settings: AppSettings, service: Callable[[], QbwcService]) -> Endpoint:
    limit = settings.gateway_max_soap_bytes

    async def soap_call(request: Request) -> Response:
        body = await _body_or_refusal(request, limit, settings.gateway_request_read_seconds)
        if isinstance(body, Response):
            return body
        try:
            call = parse_call(body, max_bytes=limit)
        except SoapFault as fault:
            SOAP_CALLS.labels("unknown", "fault").inc()
            return _soap_response(fault_envelope(fault), SOAP11_NS, 500)
        if request.client is not None:
            call = dataclasses.replace(call, client=request.client.host)
        return await _answer(call, service)

    return soap_call


class SoapFastPath:
    """POST /qbwc goes straight to the SOAP endpoint, ahead of FastAPI's routing (the API
    and console add ~100 routes) and its request handling: the Web Connector's calls are the
    gateway's hottest path, and that machinery cost more CPU per call than answering
    getLastError itself. The endpoint catches everything and answers in SOAP; anything else
    goes on to the app as before."""

    def __init__(self, app: ASGIApp, endpoint: Endpoint) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/qbwc":
            response = await self.endpoint(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def register_soap_endpoint(
    app: FastAPI, settings: AppSettings, service: Callable[[], QbwcService]
) -> None:
    soap_call = soap_endpoint(settings, service)

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

    @app.post("/qbwc")
    async def qbwc(request: Request) -> Response:
        # Reached only when the fast path is bypassed (it answers POST /qbwc first).
        return await soap_call(request)

    app.add_middleware(SoapFastPath, endpoint=soap_call)
