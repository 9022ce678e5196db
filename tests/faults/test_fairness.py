"""One tenant's flood cannot hold back another tenant's document, and N tenants' backlogs are
served in rounds, not in the order they were fetched (issue 13, point 4)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest
from sqlmodel import col, func, select

from omni2qbd_mapper.app import create_app
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.models import Entry
from omni2qbd_shared.fairness import TenantShare
from omni2qbd_shared.messaging import Publisher, Topology, connect, ensure_topology
from tests.conftest import AMQP_URL
from tests.faults.test_outages import MapperUnderTest, document, until
from tests.mapper.test_mapper_store import make_tenant

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.timeout(300)]

FLOOD = 200  # ten times the tenant's share of 20: most of it queued at a lower priority
TENANTS, BACKLOG = 20, 25


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
        await until(lambda: _at_least(under_test.bills(flooding), FLOOD), "the whole flood", 240)
    await under_test.engine.dispose()


async def _at_least(value: Awaitable[int], expected: int) -> bool:
    return await value >= expected


async def test_many_tenants_backlogs_are_served_in_rounds_not_in_fetch_order(
    postgres_database_url: str, topology: Topology
) -> None:
    """The 100-tenant soak's failure in small: every tenant's backlog queued one tenant after
    another (as an initial sync publishes them), with the publisher's default share. Every
    tenant must have a document mapped before any tenant has its whole backlog mapped."""
    app = create_app(
        AppSettings(database_url=postgres_database_url, amqp_url=AMQP_URL, log_json=False),
        topology=topology,
    )
    under_test = MapperUnderTest(app, postgres_database_url, topology)
    tenants = [await make_tenant(under_test.sessions) for _ in range(TENANTS)]
    connection = await connect(AMQP_URL)
    await ensure_topology(connection, topology)
    publisher = await Publisher.open(connection, topology)  # the default share, as a fetcher
    for tenant in tenants:
        await publisher.publish_many([document(tenant, number) for number in range(BACKLOG)])
    await publisher.close()
    await connection.close()

    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.runtime.started.wait(), 30)
        await until(lambda: _all_mapped(under_test, tenants), "every backlog mapped", 170)
    async with under_test.sessions() as session:
        rows = (
            await session.exec(
                select(Entry.tenant_id, func.min(Entry.created_at), func.max(Entry.created_at))
                .where(col(Entry.tenant_id).in_(tenants), col(Entry.entry_kind) == "bill")
                .group_by(col(Entry.tenant_id))
            )
        ).all()
    await under_test.engine.dispose()
    first = {tenant: earliest for tenant, earliest, _latest in rows}
    last = {tenant: latest for tenant, _earliest, latest in rows}
    served_last = max(first, key=lambda tenant: first[tenant])
    finished_first = min(last, key=lambda tenant: last[tenant])
    assert first[served_last] < last[finished_first], (
        f"tenant {tenants.index(served_last)} had nothing mapped until after tenant "
        f"{tenants.index(finished_first)} had its whole backlog mapped"
    )


async def _all_mapped(under_test: MapperUnderTest, tenants: list[str]) -> bool:
    async with under_test.sessions() as session:
        statement = (
            select(func.count())
            .select_from(Entry)
            .where(col(Entry.tenant_id).in_(tenants), col(Entry.entry_kind) == "bill")
        )
        return int((await session.exec(statement)).one()) >= TENANTS * BACKLOG
