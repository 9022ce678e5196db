"""The fetcher service: polls every tenant's Cin7 Omni account and publishes revisions.

``create_app(settings)`` gives the ASGI app ``omni2qbd run fetcher`` serves: /livez, /readyz,
/metrics, ``POST /tenants/{tenant_id}/refresh`` ("refresh now") and
``GET /tenants/{tenant_id}/status``, ``POST /tenants/{tenant_id}/supplier-credit-notes`` (a CSV
export, see ``supplier_credits``), all for an operator only (``access``); its lifespan starts
the polling loop and the consumer of ``tenant.events`` (``refresh_requested`` /
``tenant_created`` sync that tenant now) and stops them.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_fetcher import publishing
from omni2qbd_fetcher import repository as repo
from omni2qbd_fetcher.access import require_operator
from omni2qbd_fetcher.options import FetcherOptions
from omni2qbd_fetcher.scheduler import FetchScheduler
from omni2qbd_fetcher.supplier_credits import SupplierCreditCsvError, import_supplier_credits
from omni2qbd_fetcher.tenant_sync import TenantSyncer
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Tenant
from omni2qbd_shared.messages import Message, TenantEventMessage
from omni2qbd_shared.messaging import Consumer, Topology
from omni2qbd_shared.service import ServiceRuntime, create_service_app


def create_app(
    settings: AppSettings,
    *,
    topology: Topology | None = None,
    options: FetcherOptions | None = None,
) -> FastAPI:
    options = options or FetcherOptions.from_settings(settings)
    runtime = ServiceRuntime(
        name="fetcher",
        settings=settings,
        topology=topology or options.topology(settings),
    )
    holder: dict[str, FetchScheduler] = {}
    _register_polling(runtime, settings, options, holder)
    app = create_service_app(runtime, title="omni2qbd fetcher")
    operator_only = [Depends(require_operator(settings))]  # see ``access``
    app.include_router(_sync_routes(runtime, holder), dependencies=operator_only)
    app.include_router(_supplier_credit_routes(runtime), dependencies=operator_only)
    app.state.scheduler_holder = holder
    return app


def _register_polling(
    runtime: ServiceRuntime,
    settings: AppSettings,
    options: FetcherOptions,
    holder: dict[str, FetchScheduler],
) -> None:
    """The polling loop and the tenant-events consumer live while the database and broker do."""
    consumers: list[Consumer] = runtime.consumers  # /readyz asks each whether it consumes

    async def start_polling(rt: ServiceRuntime) -> None:
        scheduler = _start_scheduler(rt, settings, options)
        holder["scheduler"] = scheduler
        consumer = _tenant_events_consumer(rt, settings, scheduler)
        await consumer.start()
        consumers.append(consumer)

    async def stop_polling(_rt: ServiceRuntime) -> None:
        while consumers:
            await consumers.pop().stop()
        scheduler = holder.pop("scheduler", None)
        if scheduler is not None:
            await scheduler.stop()
            await publishing.drain()  # publishes under way finish before the broker closes
            await scheduler.syncer.aclose()

    async def polling_check() -> str | None:
        scheduler = holder.get("scheduler")
        if scheduler is not None and not scheduler.running:
            return "the polling loop stopped"
        return None

    runtime.on_ready.append(start_polling)
    runtime.on_stop.append(stop_polling)
    runtime.extra_checks["polling"] = polling_check


def _start_scheduler(
    rt: ServiceRuntime, settings: AppSettings, options: FetcherOptions
) -> FetchScheduler:
    assert rt.sessions is not None and rt.publisher is not None
    syncer = TenantSyncer(sessions=rt.sessions, publisher=rt.publisher, options=options)
    scheduler = FetchScheduler(
        sessions=rt.sessions,
        syncer=syncer,
        secret_key=settings.secret_key.get_secret_value(),
        options=options,
    )
    scheduler.start()
    return scheduler


def _tenant_events_consumer(
    rt: ServiceRuntime, settings: AppSettings, scheduler: FetchScheduler
) -> Consumer:
    assert rt.connection is not None and rt.sessions is not None

    async def on_tenant_event(
        event: TenantEventMessage, _session: AsyncSession
    ) -> Sequence[Message]:
        # "Refresh now" from the console, or a new tenant: sync it without waiting.
        if event.event in ("refresh_requested", "tenant_created"):
            await scheduler.refresh(event.tenant_id)
        return []

    return Consumer(
        connection=rt.connection,
        topology=rt.topology,
        queue_name="fetcher.tenant-events",
        model=TenantEventMessage,
        handler=on_tenant_event,
        sessions=rt.sessions,
        prefetch=10,
        max_retries=settings.message_max_retries,
        transient_retry_max_seconds=settings.message_transient_retry_max_seconds,
    )


def _scheduler_or_503(holder: dict[str, FetchScheduler]) -> FetchScheduler:
    scheduler = holder.get("scheduler")
    if scheduler is None:
        raise HTTPException(503, "the fetcher is still starting (database or broker not up)")
    return scheduler


def _sync_routes(runtime: ServiceRuntime, holder: dict[str, FetchScheduler]) -> APIRouter:
    """What the operator asks of the polling: refresh a tenant now, and where each one stands."""
    router = APIRouter()

    @router.post("/tenants/{tenant_id}/refresh", status_code=202)
    async def refresh(tenant_id: str) -> dict[str, str]:
        """Sync this tenant now instead of at its next poll."""
        if not await _scheduler_or_503(holder).refresh(tenant_id):
            raise HTTPException(
                404, f"tenant {tenant_id} does not exist or has no Cin7 credentials set"
            )
        return {"status": "queued", "tenant_id": tenant_id}

    @router.get("/tenants/{tenant_id}/status")
    async def status(tenant_id: str) -> dict[str, object]:
        """Per kind: last success, last error, counts and cursors; plus the scheduler's view."""
        if runtime.sessions is None:
            raise HTTPException(503, "the fetcher is still starting (database not up)")
        async with unit_of_work(runtime.sessions) as session:
            kinds = await repo.statuses(session, tenant_id)
        scheduler = holder.get("scheduler")
        live = [s for s in scheduler.snapshot() if s["tenant_id"] == tenant_id] if scheduler else []
        return {"tenant_id": tenant_id, "kinds": kinds, "scheduler": live[0] if live else None}

    @router.get("/tenants")
    async def tenants() -> list[dict[str, object]]:
        return _scheduler_or_503(holder).snapshot()

    return router


def _supplier_credit_routes(runtime: ServiceRuntime) -> APIRouter:
    """Supplier credit notes, which the API does not list, arrive as a CSV export instead."""
    router = APIRouter()

    @router.post("/tenants/{tenant_id}/supplier-credit-notes")
    async def upload_supplier_credits(tenant_id: str, request: Request) -> dict[str, object]:
        """Import supplier credit notes from a CSV export of Cin7 Omni (body: the CSV file)."""
        if runtime.sessions is None:
            raise HTTPException(503, "the fetcher is still starting (database not up)")
        if runtime.publisher is None:
            raise HTTPException(503, "the fetcher is not connected to the broker yet")
        async with unit_of_work(runtime.sessions) as session:
            if await session.get(Tenant, tenant_id) is None:
                raise HTTPException(404, f"tenant {tenant_id} does not exist")
        body = await request.body()
        try:
            read, published = await import_supplier_credits(
                tenant_id=tenant_id,
                data=body,
                sessions=runtime.sessions,
                publisher=runtime.publisher,
            )
        except SupplierCreditCsvError as exc:
            raise HTTPException(422, f"the supplier credit note file was refused: {exc}") from exc
        return {"tenant_id": tenant_id, "credit_notes": read, "published": published}

    return router
