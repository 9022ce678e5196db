"""kill -9 of the mapper in the middle of a stream of documents: a new mapper process maps
every document exactly once, and nothing is dead-lettered."""

from __future__ import annotations

import signal

import pytest
from fastapi import FastAPI

from omni2qbd_shared.messaging import Publisher, Topology, connect, ensure_topology
from tests.conftest import AMQP_URL
from tests.faults.test_outages import MapperUnderTest, document, until
from tests.mapper.test_mapper_store import make_tenant
from tests.service_process import running_service

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.timeout(240)]

DOCUMENTS = 100


async def test_mapper_killed_mid_stream_then_restarted_maps_each_document_once(
    postgres_database_url: str, topology: Topology
) -> None:

    under_test = MapperUnderTest(FastAPI(), postgres_database_url, topology)
    tenant = await make_tenant(under_test.sessions)
    connection = await connect(AMQP_URL)
    await ensure_topology(connection, topology)
    publisher = await Publisher.open(connection, topology)
    for number in range(DOCUMENTS):
        await publisher.publish(document(tenant, number))
    env = {
        "OMNI2QBD_DATABASE_URL": postgres_database_url,
        "OMNI2QBD_AMQP_URL": AMQP_URL,
        "OMNI2QBD_AMQP_NAMESPACE": topology.namespace,
        "OMNI2QBD_ENVIRONMENT": "test",
        "OMNI2QBD_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "OMNI2QBD_MAPPER_PREFETCH": "5",
    }

    async def some_mapped() -> bool:
        return await under_test.bills(tenant) >= 5

    async def all_mapped() -> bool:
        return await under_test.bills(tenant) == DOCUMENTS

    with running_service("mapper", env) as (_base, process):
        await until(some_mapped, "the first bills")
        process.send_signal(signal.SIGKILL)  # mid-stream, with messages unacknowledged
        process.wait(30)
    assert await under_test.bills(tenant) < DOCUMENTS, "the kill came too late to prove much"
    with running_service("mapper", env):
        await until(all_mapped, "every bill after the restart", 180)
    assert await under_test.dead_letters() == 0
    await publisher.close()
    await connection.close()
    await under_test.engine.dispose()
