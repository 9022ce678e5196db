"""Issue 15, point 3: the mapper maps several documents of a tenant in one transaction,
acknowledges each only after that commit, keeps tenants apart, and a poison message in a
batch is dead-lettered alone while the rest of the batch is stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from omni2qbd_mapper.app import create_app
from omni2qbd_mapper.batching import BatchingDocumentConsumer
from omni2qbd_shared import messages as m
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.messaging import Publisher, Topology, connect, declare_topology, reason_of
from omni2qbd_shared.revision import revision_of as canonical_revision
from tests.conftest import AMQP_URL
from tests.mapper.conftest import load_doc
from tests.mapper.test_mapper_service import take
from tests.mapper.test_mapper_store import make_tenant, rows

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def order(tenant: str, number: int, *, unreadable: bool = False) -> m.Cin7DocumentMessage:
    payload = {
        **load_doc("so_tax_exclusive"),
        "id": 9000 + number,
        "reference": f"SO-{9000 + number}",
        "invoiceNumber": 9000 + number,
    }
    if unreadable:
        payload["total"] = "lots"
    return m.Cin7DocumentMessage(
        tenant_id=tenant,
        kind="sales_order",
        cin7_id=str(payload["id"]),
        revision=canonical_revision(payload),
        fetched_at=datetime.now(UTC),
        payload=payload,
    )


async def test_waiting_documents_are_mapped_in_batches_per_tenant(
    database_url: str, topology: Topology
) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    first, second = await make_tenant(sessions), await make_tenant(sessions)
    connection = await connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await declare_topology(channel, topology)
        publisher = await Publisher.open(connection, topology)
        # Everything waits in the queue before the mapper starts, so deliveries arrive together.
        for number in range(8):
            await publisher.publish(order(first, number, unreadable=number == 5))
        for number in range(4):
            await publisher.publish(order(second, number))

        app = create_app(
            AppSettings(
                database_url=database_url, amqp_url=AMQP_URL, log_json=False, mapper_prefetch=10
            ),
            topology=topology,
        )
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(app.state.runtime.started.wait(), 20)
            (documents,) = [
                c for c in app.state.consumers if isinstance(c, BatchingDocumentConsumer)
            ]
            dlq = topology.queue("mapper.cin7-documents").dead_letter_queue
            (dead,) = await take(channel, dlq, 1)
            assert "9005" in (reason_of(dead["headers"]) or "")
            for _ in range(300):
                if documents.processed >= 11:
                    break
                await asyncio.sleep(0.05)
            assert documents.processed == 11 and documents.dead_lettered == 1
            # Several documents shared a transaction (a batch), not one each.
            assert documents.batches >= 1
        invoices_first = {r.cin7_id for r in await rows(sessions, first, entry_kind="invoice")}
        invoices_second = {r.cin7_id for r in await rows(sessions, second, entry_kind="invoice")}
        assert invoices_first == {str(9000 + n) for n in range(8) if n != 5}
        assert invoices_second == {str(9000 + n) for n in range(4)}
        # Every message was acknowledged (after its commit): none came back to the queue.
        queue = await channel.declare_queue(
            topology.queue("mapper.cin7-documents").name, passive=True
        )
        assert queue.declaration_result.message_count == 0
        await publisher.close()
    finally:
        await connection.close()
        await engine.dispose()
