"""The pages a Web Connector user reaches by browser: the tenant's .qwc file (HTTP Basic with
that tenant's Web Connector credentials) and the support page the .qwc names.

``register_qwc_pages(app, runtime, settings)`` is what the gateway app calls.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import login_throttle, repository
from omni2qbd_gateway.qwc import build_qwc, qwc_filename
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Tenant
from omni2qbd_shared.service import ServiceRuntime

_ASK_FOR_CREDENTIALS = {"WWW-Authenticate": 'Basic realm="omni2qbd console"'}


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


async def _signed_in_tenant(request: Request, sessions: async_sessionmaker[AsyncSession]) -> Tenant:
    """The tenant whose Web Connector credentials the request carries; 401 or 429 otherwise."""
    credentials = _basic_credentials(request)
    if credentials is None:
        raise HTTPException(
            401,
            "log in with the tenant's Web Connector user name and password",
            headers=dict(_ASK_FOR_CREDENTIALS),
        )
    username, password = credentials
    client = request.client.host if request.client is not None else None
    attempt = login_throttle.Attempt("qbwc", username[:100], client)
    async with unit_of_work(sessions) as db:
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
        raise HTTPException(401, "wrong user name or password", headers=dict(_ASK_FOR_CREDENTIALS))
    assert tenant is not None
    renewed_hash = await repository.renewed_password_hash(tenant, password)
    async with unit_of_work(sessions) as db:
        await login_throttle.succeeded(db, reservation)
        if renewed_hash is not None:
            await repository.store_renewed_password_hash(db, tenant, renewed_hash)
    return tenant


def register_qwc_pages(app: FastAPI, runtime: ServiceRuntime, settings: AppSettings) -> None:
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
        tenant = await _signed_in_tenant(request, runtime.sessions)
        if tenant.id != tenant_id:
            # The same answer as for a tenant that does not exist: nothing about B leaks to A.
            raise HTTPException(404, "no such tenant")
        return Response(
            build_qwc(tenant, settings.gateway_public_url),
            media_type="application/x-qwc",
            headers={"Content-Disposition": f'attachment; filename="{qwc_filename(tenant)}"'},
        )
