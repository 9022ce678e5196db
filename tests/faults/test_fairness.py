"""One tenant's flood cannot hold back another tenant's document (issue 13, point 4)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest

from omni2qbd_mapper.app import create_app
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.fairness import TenantShare
from omni2qbd_shared.messaging import Publisher, Topology, connect, ensure_topology
from tests.conftest import AMQP_URL
from tests.faults.test_outages import MapperUnderTest, document, until
from tests.mapper.test_mapper_store import make_tenant

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.timeout(180)]

FLOOD = 400


async def test_a_quiet_tenant_overtakes_a_flood_queued_before_it(
    postgres_database_url: str, topology: Topology
) -> None:
    app = create_app(
        AppSettings(
            database_url=postgres_database_url, amqp_url=AMQP_URL, log_json=False, mapper_prefetch=5
        ),
        topology=topology,
    )
    under_test = MapperUnderTest(app, postgres_database_url, topology)
    flooding, quiet = await make_tenant(under_test.sessions), await make_tenant(under_test.sessions)
    connection = await connect(AMQP_URL)
    await ensure_topology(connection, topology)
    # One publisher, as in one fetcher: the flood exceeds its tenant's share, the quiet
    # tenant's single change does not.
    publisher = await Publisher.open(connection, topology)
    publisher.share = TenantShare(burst=20, window_seconds=3600)
    for number in range(FLOOD):
        await publisher.publish(document(flooding, number))
    await publisher.publish(document(quiet, 999))
    await publisher.close()
    await connection.close()

    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.runtime.started.wait(), 30)
        await until(lambda: _at_least(under_test.bills(quiet), 1), "the quiet tenant's bill", 120)
        mapped_of_flood = await under_test.bills(flooding)
        # Only the flood's own share (and what was already prefetched) went first.
        assert mapped_of_flood < FLOOD // 2, mapped_of_flood
        await until(lambda: _at_least(under_test.bills(flooding), FLOOD), "the whole flood", 150)
    await under_test.engine.dispose()


async def _at_least(value: Awaitable[int], expected: int) -> bool:
    return await value >= expected
