"""The whole product for one test: the Cin7 simulator, the real fetcher, mapper and gateway
services (uvicorn, in this event loop), the QuickBooks and Web Connector simulators, a tenant
and its bookkeeper signed in to the JSON API."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd.demo.company import demo_settings, seed_company
from omni2qbd_fetcher.app import create_app as create_fetcher
from omni2qbd_gateway.settings_store import save_settings
from omni2qbd_gateway.tenants import NewTenant, create_tenant
from omni2qbd_mapper.app import create_app as create_mapper
from omni2qbd_shared.config import PLACEHOLDER_SECRET_KEY, AppSettings
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import OutboxItem, Tenant
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_sims.cin7 import Cin7Store, SimConfig
from omni2qbd_sims.cin7 import create_app as create_cin7
from omni2qbd_sims.cin7.server import serve_in_thread
from omni2qbd_sims.cin7.store import ApiConnection, Record, TenantAccount
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.quickbooks.company_file import CompanyFile
from omni2qbd_sims.webconnector import SessionReport, WebConnectorSimulator
from tests.api.api_helpers import Person, api_client, new_person, sign_in
from tests.conftest import AMQP_URL, free_port
from tests.gateway.gateway_helpers import COMPANY_PATH, Gateway, running_gateway

T = TypeVar("T")
CIN7_USER = "E2EShopAPI"
CIN7_KEY = "e2e-" + "k" * 28
WAIT_SECONDS = 60.0


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """A service app under uvicorn on a free port in this event loop, until it is ready."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_for(lambda: _ready(url, task), "the service to be ready")
        yield url
    finally:
        server.should_exit = True
        await task


async def _ready(url: str, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.TransportError:
        return False


async def wait_for(
    condition: Callable[[], Awaitable[T | None]], what: str, timeout: float = WAIT_SECONDS
) -> T:
    """Until ``condition()`` is truthy (it is polled); fails naming what never happened.

    The value returned is the truthy one, so a condition answering ``X | None`` gives an ``X``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class Stack:
    gateway: Gateway
    fetcher_url: str
    cin7: Cin7Store
    account: TenantAccount
    qb: QuickBooksSimulator
    company: CompanyFile
    tenant: NewTenant
    bookkeeper: Person
    api: httpx.AsyncClient

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.gateway.sessions

    @property
    def tenant_url(self) -> str:
        return f"/tenants/{self.tenant.tenant_id}"

    def connector(self, **faults: Any) -> WebConnectorSimulator:
        return WebConnectorSimulator(
            self.gateway.soap_url,
            self.tenant.qbwc_username,
            self.tenant.qbwc_password,
            self.qb,
            self.company.path,
            noop_pause_seconds=0.05,
            **faults,
        )

    async def web_connector_run(self, **faults: Any) -> SessionReport:
        report = await self.connector(**faults).run_session()
        if not faults:
            assert report.completed, report.summary()
        return report

    async def refresh_from_cin7(self) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{self.fetcher_url}/tenants/{self.tenant.tenant_id}/refresh"
            )
        assert response.status_code == 202, response.text

    def create(self, resource: str, data: dict[str, Any]) -> Record:
        return self.cin7.create(self.account, resource, data)

    def change(self, resource: str, record_id: int, changes: dict[str, Any]) -> Record:
        return self.cin7.update(self.account, resource, {**changes, "id": record_id})

    async def outbox(self) -> list[OutboxItem]:
        async with self.sessions() as db:
            return list((await db.exec(scoped(OutboxItem, self.tenant.tenant_id))).all())

    async def live_item(self, entry_kind: str, cin7_id: str) -> OutboxItem | None:
        """The newest outbox version of a document's entry (any state but superseded)."""
        items = [
            i
            for i in await self.outbox()
            if i.entry_kind == entry_kind and i.cin7_id == cin7_id and i.state != "superseded"
        ]
        return max(items, key=lambda i: i.version) if items else None


def sales_order(
    member_id: int, company: str, *, reference: str, lines: list[dict[str, Any]], when: datetime
) -> dict[str, Any]:
    return {
        "reference": reference,
        "memberId": member_id,
        "company": company,
        "memberEmail": f"{company.split()[0].lower()}@example.com",
        "stage": "Dispatched",
        "taxStatus": "Excl",
        "taxRate": 0.0,
        "branchId": 1,
        "invoiceDate": when,
        "dispatchedDate": when,
        "lineItems": lines,
    }


def line(code: str, qty: int, price: float, cost: float) -> dict[str, Any]:
    return {
        "code": code,
        "name": code.title(),
        "qty": qty,
        "unitPrice": price,
        "unitCost": cost,
        "qtyShipped": qty,
    }


def purchase_order(
    member_id: int, company: str, *, reference: str, invoice: str, amount: float, when: datetime
) -> dict[str, Any]:
    return {
        "reference": reference,
        "memberId": member_id,
        "company": company,
        "stage": "Received",
        "taxStatus": "Excl",
        "taxRate": 0.0,
        "branchId": 1,
        "supplierInvoiceReference": invoice,
        "invoiceDate": when,
        "fullyReceivedDate": when,
        "lineItems": [
            {"code": "STOCK", "name": "Stock", "qty": 1, "unitPrice": amount, "qtyShipped": 1}
        ],
    }


@contextlib.contextmanager
def cin7_simulator() -> Iterator[tuple[Cin7Store, TenantAccount, str]]:
    store = Cin7Store()
    account = TenantAccount(CIN7_USER, "E2E Shop", [ApiConnection(CIN7_KEY, "Omni2QBD")], 7_000_000)
    store.add(account)
    with serve_in_thread(create_cin7(store, SimConfig(rate_limits_enabled=False))) as url:
        yield store, account, url


@contextlib.asynccontextmanager
async def workflow_stack(database_url: str, namespace: str) -> AsyncIterator[Stack]:
    settings = AppSettings(
        environment="development",
        database_url=database_url,
        amqp_url=AMQP_URL,
        amqp_namespace=namespace,
        log_level="WARNING",
        log_json=False,
        message_retry_delay_ms=300,
        fetcher_poll_interval_seconds=3600,
        cin7_allowed_hosts=["127.0.0.1"],  # the Cin7 simulator
    )
    with cin7_simulator() as (store, account, cin7_url):
        async with running_gateway(
            # The Web Connector that lost its connection takes its silent session over after
            # a second (as after a crash). A 1 s session timeout did the same but also expired
            # a live session whose calls were slow on a loaded machine.
            database_url,
            AMQP_URL,
            namespace,
            gateway_takeover_after_seconds=1,
        ) as gateway:
            async with unit_of_work(gateway.sessions) as db:
                created = await create_tenant(
                    db,
                    name=f"E2E Shop {uuid.uuid4().hex[:6]}",
                    secret_key=PLACEHOLDER_SECRET_KEY,
                    actor="test",
                    cin7_username=CIN7_USER,
                    cin7_api_key=CIN7_KEY,
                    cin7_base_url=f"{cin7_url}/",
                )
                tenant = await db.get(Tenant, created.tenant_id)
                assert tenant is not None
                tenant.qb_company_path = COMPANY_PATH.format(name="E2E Shop")
                db.add(tenant)
                await save_settings(db, tenant.id, demo_settings(Decimal("0")), actor="test")
                path, file_id = tenant.qb_company_path, tenant.qb_file_id
            qb = QuickBooksSimulator()
            company = qb.company(path, file_id=file_id)
            seed_company(company, tax_rate=Decimal("0"))
            bookkeeper = await new_person(gateway.sessions, "bookkeeper", [created.tenant_id])
            async with api_client(gateway) as anonymous:
                token = await sign_in(anonymous, bookkeeper)
            async with (
                serving(create_mapper(settings)),
                serving(create_fetcher(settings)) as fetcher_url,
                api_client(gateway, token) as api,
            ):
                yield Stack(
                    gateway,
                    fetcher_url,
                    store,
                    account,
                    qb,
                    company,
                    created,
                    bookkeeper,
                    api,
                )


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
