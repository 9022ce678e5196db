"""Two mapper replicas on one queue (competing consumers): each document mapped once."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlmodel import col, func, select

from omni2qbd_mapper.app import create_app
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.models import Entry
from omni2qbd_shared.messaging import Publisher, Topology, connect
from tests.conftest import AMQP_URL
from tests.faults.test_outages import MapperUnderTest, document, until
from tests.mapper.test_mapper_store import make_tenant

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.timeout(180)]

DOCUMENTS = 40


async def test_two_mappers_share_the_queue_and_map_each_document_once(
    postgres_database_url: str, topology: Topology
) -> None:
    settings = AppSettings(
        database_url=postgres_database_url, amqp_url=AMQP_URL, log_json=False, mapper_prefetch=2
    )
    replicas = [create_app(settings, topology=topology) for _ in range(2)]
    first = MapperUnderTest(replicas[0], postgres_database_url, topology)
    tenant = await make_tenant(first.sessions)
    async with contextlib.AsyncExitStack() as stack:
        for app in replicas:
            await stack.enter_async_context(app.router.lifespan_context(app))
            await asyncio.wait_for(app.state.runtime.started.wait(), 30)
        connection = await connect(AMQP_URL)
        publisher = await Publisher.open(connection, topology)
        for number in range(DOCUMENTS):
            await publisher.publish(document(tenant, number))
        await publisher.close()
        await connection.close()

        async def all_mapped() -> bool:
            return await first.bills(tenant) == DOCUMENTS

        await until(all_mapped, "every bill")
        handled = [
            next(c for c in app.state.consumers if c.spec.name.endswith("cin7-documents"))
            for app in replicas
        ]
        assert all(consumer.processed > 0 for consumer in handled), "both replicas worked"
    async with first.sessions() as session:
        versions = (
            await session.exec(
                select(func.count())
                .select_from(Entry)
                .where(col(Entry.tenant_id) == tenant, col(Entry.entry_kind) == "bill")
            )
        ).one()
    assert versions == DOCUMENTS  # one entry per document: nothing mapped twice
    assert await first.dead_letters() == 0
    await first.engine.dispose()
