"""Broker and database outages against the running mapper (issue 13, points 1 and 2).

Each outage is made by a TCP proxy in front of the machine's RabbitMQ or PostgreSQL; the real
servers keep running. The mapper must resume by itself, say what is missing in ``/readyz``
meanwhile, and map every document exactly once with nothing dead-lettered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, func, select

from omni2qbd_mapper.app import create_app
from omni2qbd_shared import messages as m
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.db.models import Entry
from omni2qbd_shared.messaging import Publisher, Topology, connect
from omni2qbd_shared.revision import revision_of as canonical_revision
from tests.conftest import AMQP_URL
from tests.faults.conftest import through
from tests.faults.tcp_proxy import TcpProxy
from tests.mapper.conftest import load_doc
from tests.mapper.test_mapper_store import make_tenant

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.timeout(120)]


async def until(condition: Callable[[], Awaitable[bool]], what: str, limit: float = 60) -> None:
    """Wait for an event (polling it); the limit only stops a broken run from hanging."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


def document(tenant_id: str, number: int) -> m.Cin7DocumentMessage:
    payload = {**load_doc("po_bill"), "id": 70000 + number}
    return m.Cin7DocumentMessage(
        tenant_id=tenant_id,
        kind="purchase_order",
        cin7_id=str(70000 + number),
        revision=canonical_revision(payload),
        fetched_at=datetime.now(UTC),
        payload=payload,
    )


async def readyz(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mapper") as client:
        return await client.get("/readyz")


class MapperUnderTest:
    def __init__(self, app: FastAPI, database_url: str, topology: Topology) -> None:
        self.app = app
        self.engine = create_engine(database_url)
        self.sessions = session_factory(engine=self.engine)
        self.topology = topology

    async def bills(self, tenant_id: str) -> int:
        async with self.sessions() as session:
            statement = (
                select(func.count(func.distinct(Entry.cin7_id)))
                .select_from(Entry)
                .where(col(Entry.tenant_id) == tenant_id, col(Entry.entry_kind) == "bill")
            )
            return int((await session.exec(statement)).one())

    async def dead_letters(self) -> int:
        connection = await connect(AMQP_URL)
        try:
            channel = await connection.channel()
            total = 0
            for spec in self.topology.all_queues():
                if spec.name.endswith(("mapper.cin7-documents", "gateway.qb-entries")):
                    queue = await channel.declare_queue(spec.dead_letter_queue, passive=True)
                    total += queue.declaration_result.message_count or 0
            return total
        finally:
            await connection.close()


@pytest.fixture
async def publisher(topology: Topology) -> AsyncIterator[Publisher]:
    connection = await connect(AMQP_URL)
    pub = await Publisher.open(connection, topology)
    yield pub
    await pub.close()
    await connection.close()


async def test_mapper_resumes_after_broker_outage_and_readyz_names_the_broker(
    postgres_database_url: str, topology: Topology, broker_proxy: TcpProxy, publisher: Publisher
) -> None:
    app = create_app(
        AppSettings(
            database_url=postgres_database_url,
            amqp_url=through(AMQP_URL, broker_proxy),
            log_json=False,
        ),
        topology=topology,
    )
    under_test = MapperUnderTest(app, postgres_database_url, topology)
    tenant = await make_tenant(under_test.sessions)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.runtime.started.wait(), 30)
        for number in range(5):
            await publisher.publish(document(tenant, number))
        await until(lambda: _equals(under_test.bills(tenant), 5), "the first five bills")
        assert (await readyz(app)).status_code == 200

        await broker_proxy.cut()
        await until(lambda: _status(app, 503), "/readyz to say 503")
        failed = (await readyz(app)).json()["failed"]
        assert "broker" in failed, failed
        # Documents keep arriving at the broker while the mapper cannot reach it.
        for number in range(5, 12):
            await publisher.publish(document(tenant, number))

        await broker_proxy.restore()
        await until(lambda: _equals(under_test.bills(tenant), 12), "the bills after the outage")
        await until(lambda: _status(app, 200), "/readyz to be 200 again")
    assert await under_test.dead_letters() == 0
    await under_test.engine.dispose()


async def test_database_outage_is_waited_out_not_dead_lettered(
    postgres_database_url: str, topology: Topology, pg_proxy: TcpProxy, publisher: Publisher
) -> None:
    proxied = through(postgres_database_url, pg_proxy)
    app = create_app(
        AppSettings(database_url=proxied, amqp_url=AMQP_URL, log_json=False), topology=topology
    )
    under_test = MapperUnderTest(app, postgres_database_url, topology)
    tenant = await make_tenant(under_test.sessions)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.runtime.started.wait(), 30)
        await publisher.publish(document(tenant, 0))
        await until(lambda: _equals(under_test.bills(tenant), 1), "the first bill")

        await pg_proxy.cut()
        for number in range(1, 15):
            await publisher.publish(document(tenant, number))
        documents = next(
            c for c in app.state.consumers if c.spec.name.endswith("mapper.cin7-documents")
        )
        await until(_true(lambda: documents.transient_retries > 0), "a handler to hit the outage")
        failed = (await readyz(app)).json()["failed"]
        assert "database" in failed, failed

        await pg_proxy.restore()
        await until(lambda: _equals(under_test.bills(tenant), 15), "every bill after the outage")
        assert documents.dead_lettered == 0
        await until(lambda: _status(app, 200), "/readyz to be 200 again")
    assert await under_test.dead_letters() == 0
    await under_test.engine.dispose()


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _status(app: FastAPI, code: int) -> bool:
    return (await readyz(app)).status_code == code


def _true(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return predicate()

    return check
