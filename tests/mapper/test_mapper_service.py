"""The mapper service end to end on the real RabbitMQ and database: documents in, entries out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from fastapi import FastAPI

from omni2qbd_mapper.app import create_app
from omni2qbd_shared import messages as m
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.messaging import Publisher, Topology, connect, reason_of
from omni2qbd_shared.revision import revision_of as canonical_revision
from tests.conftest import AMQP_URL
from tests.mapper.conftest import load_doc
from tests.mapper.test_mapper_store import make_tenant, rows

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


@pytest.fixture
async def mapper(database_url: str, topology: Topology) -> AsyncIterator[FastAPI]:
    app = create_app(
        AppSettings(database_url=database_url, amqp_url=AMQP_URL, log_json=False), topology=topology
    )
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        await asyncio.wait_for(runtime.started.wait(), 20)
        yield app


async def take(
    channel: aio_pika.abc.AbstractChannel, queue: str, count: int
) -> list[dict[str, Any]]:
    """``count`` messages from a queue (waiting up to 15 s), acknowledged."""
    q = await channel.get_queue(queue, ensure=False)
    found: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + 15
    while len(found) < count:
        message = await q.get(fail=False)
        if message is None:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"only {len(found)} of {count} messages arrived on {queue}")
            await asyncio.sleep(0.05)
            continue
        await message.ack()
        found.append({"body": json.loads(message.body), "headers": dict(message.headers or {})})
    return found


async def test_documents_in_entries_out_and_results_tracked(
    mapper: FastAPI, database_url: str, topology: Topology
) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    tenant = await make_tenant(sessions)
    connection = await connect(AMQP_URL)
    try:
        publisher = await Publisher.open(connection, topology)
        payload = load_doc("po_bill")
        message = m.Cin7DocumentMessage(
            tenant_id=tenant,
            kind="purchase_order",
            cin7_id="5120",
            revision=canonical_revision(payload),
            fetched_at=datetime.now(UTC),
            payload=payload,
        )
        await publisher.publish(message)
        await publisher.publish(message)  # a duplicate delivery changes nothing
        channel = await connection.channel()
        entries_queue = topology.queue("gateway.qb-entries").name
        got = await take(channel, entries_queue, 4)
        kinds = [g["body"]["entry_kind"] for g in got]
        assert kinds == ["vendor_add", "bill", "vendor_add", "bill"]
        bills = [g["body"] for g in got if g["body"]["entry_kind"] == "bill"]
        assert bills[0]["entry_id"] == bills[1]["entry_id"]
        bill = bills[0]
        assert bill["entry"]["total"] == "169.00" and bill["state"] == "ready"
        assert bill["entry"]["depends_on"] == [got[0]["body"]["entry"]["key"]]

        await publisher.publish(
            m.ResultMessage(
                entry_id=bill["entry_id"], tenant_id=tenant, outcome="posted", txn_id="T-9"
            )
        )
        for _ in range(200):
            (row,) = await rows(sessions, tenant, entry_kind="bill")
            if row.state == "posted":
                break
            await asyncio.sleep(0.05)
        assert row.state == "posted"

        # A document for a tenant that does not exist is dead-lettered with the reason.
        await publisher.publish(message.model_copy(update={"tenant_id": "no-such-tenant"}))
        dlq = topology.queue("mapper.cin7-documents").dead_letter_queue
        (dead,) = await take(channel, dlq, 1)
        assert "does not exist" in (reason_of(dead["headers"]) or "")
        await publisher.close()
    finally:
        await connection.close()
        await engine.dispose()
