"""Issue 15: the mapper handles the results of a bulk post in batches per tenant, so each
COGS month's journal gets one new version per batch instead of one per invoice's result;
every result is acknowledged after the batch's commit and the running totals still agree
with the full rebuild."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from omni2qbd_mapper import cogs_totals, handlers, store
from omni2qbd_mapper.app import create_app
from omni2qbd_mapper.batching import BatchingResultsConsumer
from omni2qbd_shared import messages as m
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.messaging import Publisher, Topology, connect, declare_topology
from tests.conftest import AMQP_URL
from tests.mapper.conftest import load_doc
from tests.mapper.test_mapper_store import Sessions, deliver, doc_message, make_tenant, rows

SETTINGS: dict[str, Any] = {"classes": {"branch_class_map": {"3": "East", "4": "West"}}}
ORDERS = 5


async def _invoices(sessions: Sessions, tenant: str) -> list[str]:
    """Five sales orders of one month mapped; their invoices' entry ids."""
    payload = load_doc("so_tax_exclusive")
    messages = [
        doc_message(
            tenant,
            "sales_order",
            {**payload, "id": 7000 + n, "reference": f"SO-{7000 + n}", "invoiceNumber": 7000 + n},
        )
        for n in range(ORDERS)
    ]
    async with unit_of_work(sessions) as session:
        await handlers.handle_documents(messages, session)
    return [r.id for r in await rows(sessions, tenant, entry_kind="invoice")]


def _posted(tenant: str, entry_ids: list[str]) -> list[m.ResultMessage]:
    return [m.ResultMessage(entry_id=i, tenant_id=tenant, outcome="posted") for i in entry_ids]


async def test_a_batch_of_results_makes_one_journal_version_per_month(sessions: Sessions) -> None:
    batched, single = await make_tenant(sessions, SETTINGS), await make_tenant(sessions, SETTINGS)
    batched_ids, single_ids = await _invoices(sessions, batched), await _invoices(sessions, single)
    assert len(batched_ids) == len(single_ids) == ORDERS

    async with unit_of_work(sessions) as session:
        await handlers.handle_results(_posted(batched, batched_ids), session)
    for result in _posted(single, single_ids):
        await deliver(sessions, handlers.handle_result, result)

    batched_journals = await rows(sessions, batched, source_kind=store.COGS_MONTH_SOURCE)
    single_journals = await rows(sessions, single, source_kind=store.COGS_MONTH_SOURCE)
    assert len(batched_journals) == 1  # one month, one version for the whole batch
    assert len(single_journals) == ORDERS  # one by one: a version per result
    # Both end at the same sums, and the running totals agree with the full rebuild.
    assert batched_journals[-1].total == single_journals[-1].total
    async with sessions() as session:
        assert await cogs_totals.differences(session, batched) == []
        (kept,) = (await cogs_totals.stored(session, batched)).values()
        assert kept[1] == ORDERS


async def test_a_batch_mixing_tenants_is_refused(sessions: Sessions) -> None:
    first, second = await make_tenant(sessions), await make_tenant(sessions)
    messages = [
        m.ResultMessage(entry_id="a", tenant_id=first, outcome="posted"),
        m.ResultMessage(entry_id="b", tenant_id=second, outcome="posted"),
    ]
    async with sessions() as session:
        with pytest.raises(ValueError, match="one tenant's results"):
            await handlers.handle_results(messages, session)


@pytest.mark.rabbitmq
@pytest.mark.postgres
async def test_the_service_batches_waiting_results_and_acks_each(
    database_url: str, topology: Topology
) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    tenant = await make_tenant(sessions, SETTINGS)
    entry_ids = await _invoices(sessions, tenant)
    connection = await connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await declare_topology(channel, topology)
        publisher = await Publisher.open(connection, topology)
        # The results wait in the queue before the mapper starts, so they arrive together.
        for result in _posted(tenant, entry_ids):
            await publisher.publish(result)
        app = create_app(
            AppSettings(
                database_url=database_url, amqp_url=AMQP_URL, log_json=False, mapper_prefetch=10
            ),
            topology=topology,
        )
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(app.state.runtime.started.wait(), 20)
            (results,) = [c for c in app.state.consumers if isinstance(c, BatchingResultsConsumer)]
            for _ in range(300):
                if results.processed >= ORDERS:
                    break
                await asyncio.sleep(0.05)
            assert results.processed == ORDERS and results.dead_lettered == 0
            assert results.batches >= 1
        journals = await rows(sessions, tenant, source_kind=store.COGS_MONTH_SOURCE)
        assert 1 <= len(journals) < ORDERS  # at least some results shared a rebuild
        assert {r.state for r in await rows(sessions, tenant, entry_kind="invoice")} == {"posted"}
        queue = await channel.declare_queue(topology.queue("mapper.qb-results").name, passive=True)
        assert queue.declaration_result.message_count == 0  # each acknowledged after commit
        async with sessions() as session:
            assert await cogs_totals.differences(session, tenant) == []
        await publisher.close()
    finally:
        await connection.close()
        await engine.dispose()
