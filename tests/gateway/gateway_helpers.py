"""Helpers for the gateway tests: a gateway under uvicorn, tenants, entries, the simulators."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.app import create_app
from omni2qbd_gateway.tenants import NewTenant
from omni2qbd_gateway.workflow.approval import approve
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared import secrets
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.models import OutboxItem, QbLink, Tenant
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.entries import (
    ContactDetails,
    Entry,
    EntryHeader,
    EntryKind,
    EntryLine,
    Ref,
    SourceRef,
    external_guid_for,
)
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.webconnector.simulator import WebConnectorSimulator
from tests.conftest import free_port

COMPANY_PATH = "C:\\Companies\\{name}.qbw"


@dataclass
class Gateway:
    url: str
    settings: AppSettings
    sessions: async_sessionmaker[AsyncSession]

    @property
    def soap_url(self) -> str:
        return f"{self.url}/qbwc"


class GatewayTenant(NamedTuple):
    """What most gateway tests open with: ``gw, tenant, qb, path = gateway_tenant``."""

    gw: Gateway
    tenant: NewTenant
    qb: QuickBooksSimulator
    path: str


# The `gw` and `gateway_tenant` fixtures run on SQLite; a test marked with this runs on each
# database in turn (ids [sqlite] and [postgres], as with the `database_url` fixture).
BOTH_DATABASES = pytest.mark.parametrize(
    "gateway_database_url", ["sqlite", "postgres"], indirect=True
)


@contextlib.asynccontextmanager
async def running_gateway(
    database_url: str,
    amqp_url: str,
    namespace: str,
    **overrides: object,
) -> AsyncIterator[Gateway]:
    """The real gateway app under uvicorn on a free port, in this event loop."""
    port = free_port()
    settings = AppSettings(
        environment="development",
        database_url=database_url,
        amqp_url=amqp_url,
        amqp_namespace=namespace,
        gateway_public_url=f"http://127.0.0.1:{port}",
        log_level=str(overrides.pop("log_level", "WARNING")),
        log_json=False,
        # Quick retries, like the tests' topology fixture.
        message_retry_delay_ms=int(str(overrides.pop("message_retry_delay_ms", 300))),
        **overrides,  # type: ignore[arg-type]  # any AppSettings field; pydantic checks each
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            **app.state.uvicorn_options,
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    engine = create_engine(database_url)
    try:
        yield Gateway(f"http://127.0.0.1:{port}", settings, session_factory(engine))
    finally:
        server.should_exit = True
        await task
        await engine.dispose()


# Argon2 with production parameters costs ~0.3 s of CPU per hash; the verifier reads the
# parameters from the stored hash, so tests store cheap hashes and stay fast. (The gateway's
# code path is the same; `create_tenant` is exercised by the CLI tests.)


async def new_tenant(
    sessions: async_sessionmaker[AsyncSession], name: str = "Acme Trading"
) -> NewTenant:
    password = f"pw-{uuid.uuid4().hex}"
    tenant = Tenant(
        name=name,
        qbwc_username="pending",
        qbwc_password_hash=secrets.hash_generated_password(password),
    )
    tenant.qbwc_username = f"{name.lower().replace(' ', '-')}-{tenant.id[:8]}"
    async with unit_of_work(sessions) as db:
        db.add(tenant)
    return NewTenant(tenant.id, tenant.name, tenant.qbwc_username, password)


async def tenant_row(sessions: async_sessionmaker[AsyncSession], tenant_id: str) -> Tenant:
    async with sessions() as db:
        row = await db.get(Tenant, tenant_id)
        assert row is not None
        return row


def company_for(
    qb: QuickBooksSimulator, tenant: Tenant, name: str | None = None, *, minimal: bool = False
) -> str:
    """A QuickBooks company file carrying the tenant's FileID, with the lists entries use
    (``minimal``: only the customer, item and accounts the default invoice needs)."""
    path = COMPANY_PATH.format(name=name or tenant.qbwc_username)
    company = qb.company(path, file_id=tenant.qb_file_id)
    if minimal:
        company.add_account("Accounts Receivable", "AccountsReceivable")
        company.add_account("Sales", "Income")
        company.add_item("Consulting", item_type="ItemService", price="150.00", account="Sales")
        company.add_customer("Acme Corp")
    else:
        company.seed_demo()
    return path


async def open_tenant(gw: Gateway) -> GatewayTenant:
    """A new tenant on ``gw`` and its QuickBooks company file: how most gateway tests open
    (the `gateway_tenant` fixture, and helpers that are handed a gateway)."""
    tenant = await new_tenant(gw.sessions)
    qb = QuickBooksSimulator()
    path = company_for(qb, await tenant_row(gw.sessions, tenant.tenant_id))
    return GatewayTenant(gw, tenant, qb, path)


def invoice(
    tenant_id: str,
    number: int,
    *,
    customer: str = "Acme Corp",
    amount: str = "100.00",
    revision: str = "r1",
    item: str | None = "Consulting",
    depends_on: Sequence[str] = (),
) -> Entry:
    key = f"invoice:sales_order:{number}"
    return Entry(
        kind=EntryKind.INVOICE,
        source=SourceRef(kind="sales_order", cin7_id=str(number), revision=revision),
        key=key,
        tenant_id=tenant_id,
        header=EntryHeader(party=Ref(name=customer), is_pending=True, memo=f"Cin7 SO-{number}"),
        lines=[
            EntryLine(
                item=Ref(name=item) if item else None,
                account=None,
                amount=Decimal(amount),
                description=f"Order {number}",
            )
        ],
        ref_number=f"INV{number}",
        txn_date=date(2026, 11, 20),
        total=Decimal(amount),
        external_guid=external_guid_for(tenant_id, key, revision),
        depends_on=list(depends_on),
    )


def customer_add(tenant_id: str, cin7_id: str, name: str) -> Entry:
    key = f"customer_add:contact:{cin7_id}"
    return Entry(
        kind=EntryKind.CUSTOMER_ADD,
        source=SourceRef(kind="contact", cin7_id=cin7_id, revision="c1"),
        key=key,
        tenant_id=tenant_id,
        header=EntryHeader(contact=ContactDetails(name=name, company_name=name)),
        external_guid=external_guid_for(tenant_id, key, "c1"),
    )


async def add_entries(
    sessions: async_sessionmaker[AsyncSession],
    tenant_id: str,
    entries: Sequence[Entry],
    *,
    approved_by: str | None = "Pat Reviewer",
) -> list[str]:
    """Put entries in the outbox as the qb.entries consumer would, then approve them as a
    person does (the product's approval: dependencies ready among them come along)."""
    ids: list[str] = []
    async with unit_of_work(sessions) as db:
        for entry in entries:
            entry_id = str(uuid.uuid4())
            body = entry.model_dump(mode="json")
            db.add(
                OutboxItem(
                    entry_id=entry_id,
                    tenant_id=tenant_id,
                    entry_kind=entry.kind.value,
                    source_kind=entry.source.kind,
                    cin7_id=entry.source.cin7_id,
                    revision=entry.source.revision,
                    ref_number=entry.ref_number,
                    body=body,
                )
            )
            ids.append(entry_id)
    if approved_by:
        async with unit_of_work(sessions) as db:
            result = await approve(db, TenantScope(tenant_id, approved_by), entry_ids=ids)
        # An id listed after an entry that depends on it was approved as that dependency.
        done = {a.id for a in result.approved} | {d.id for d in result.dependencies}
        assert done >= set(ids), result.refused
    return ids


async def outbox_states(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str
) -> dict[str, OutboxItem]:

    async with sessions() as db:
        return {row.entry_id: row for row in (await db.exec(scoped(OutboxItem, tenant_id))).all()}


def web_connector(
    gateway: Gateway,
    tenant: NewTenant,
    qb: QuickBooksSimulator,
    company_path: str,
    **faults: object,
) -> WebConnectorSimulator:
    return WebConnectorSimulator(
        gateway.soap_url,
        tenant.qbwc_username,
        tenant.qbwc_password,
        qb,
        company_path,
        **faults,  # type: ignore[arg-type]  # the simulator's keyword options, checked at call
    )


async def link_of(
    sessions: async_sessionmaker[AsyncSession],
    tenant_id: str,
    entry_kind: str,
    cin7_id: str,
) -> QbLink | None:

    async with sessions() as db:
        query = scoped(QbLink, tenant_id).where(
            QbLink.entry_kind == entry_kind, QbLink.cin7_id == cin7_id
        )
        return (await db.exec(query)).one_or_none()


def bill(tenant_id: str, number: int, *, amount: str = "80.00", revision: str = "r1") -> Entry:
    """A bill with one expense line (QuickBooks has no draft state for bills: a bill is a
    draft while untouched since the bridge wrote it and not paid)."""
    key = f"bill:purchase_order:{number}"
    return Entry(
        kind=EntryKind.BILL,
        source=SourceRef(kind="purchase_order", cin7_id=str(number), revision=revision),
        key=key,
        tenant_id=tenant_id,
        header=EntryHeader(party=Ref(name="Widget Supply Co"), memo=f"Cin7 PO-{number}"),
        lines=[EntryLine(account="Inventory Asset", amount=Decimal(amount), description="Stock")],
        ref_number=f"SUP-{number}",
        txn_date=date(2026, 11, 18),
        total=Decimal(amount),
        external_guid=external_guid_for(tenant_id, key, revision),
    )
