"""Messages in and out: qb.entries into the outbox, qb.results and qb.lists out."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import aio_pika
from sqlmodel import select

from omni2qbd_gateway.workflow.approval import approve
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import GatewayPendingMessage, QbListCursor
from omni2qbd_shared.messaging import Publisher, Topology, connect, declare_topology
from omni2qbd_shared.qbxml.schema import validation_errors
from tests.conftest import closed_port
from tests.gateway.gateway_helpers import (
    BOTH_DATABASES,
    GatewayTenant,
    add_entries,
    invoice,
    open_tenant,
    outbox_states,
    running_gateway,
    web_connector,
)


async def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


async def listen(
    connection: aio_pika.abc.AbstractRobustConnection, topology: Topology, exchange: str
) -> aio_pika.abc.AbstractQueue:
    channel = await connection.channel()
    queue = await channel.declare_queue(
        f"{topology.namespace}test-{uuid.uuid4().hex[:6]}", exclusive=True
    )
    await queue.bind(topology.exchange_name(exchange), routing_key="#")
    return queue


async def drain(queue: aio_pika.abc.AbstractQueue) -> list[dict[str, Any]]:
    bodies = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        bodies.append(json.loads(message.body))
    return bodies


@BOTH_DATABASES
async def test_entries_in_results_and_list_changes_out(
    gateway_tenant: GatewayTenant, amqp_url: str, topology: Topology
) -> None:
    connection = await connect(amqp_url)
    try:
        channel = await connection.channel()
        await declare_topology(channel, topology)
        results_q = await listen(connection, topology, m.EXCHANGE_QB_RESULTS)
        lists_q = await listen(connection, topology, m.EXCHANGE_QB_LISTS)
        publisher = await Publisher.open(connection, topology)
        await run_flow(gateway_tenant, publisher, results_q, lists_q)
    finally:
        await connection.close()


async def run_flow(
    gateway_tenant: GatewayTenant,
    publisher: Publisher,
    results_q: aio_pika.abc.AbstractQueue,
    lists_q: aio_pika.abc.AbstractQueue,
) -> None:
    gw, tenant, qb, path = gateway_tenant

    def message(entry_id: str, amount: str, revision: str) -> m.EntryMessage:
        entry = invoice(tenant.tenant_id, 42, amount=amount, revision=revision)
        return m.EntryMessage(
            entry_id=entry_id,
            tenant_id=tenant.tenant_id,
            entry_kind="invoice",
            source=m.EntrySource(kind="sales_order", cin7_id="42", revision=revision),
            entry=entry.model_dump(mode="json"),
        )

    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    await publisher.publish(message(first, "10.00", "r1"))
    await publisher.publish(message(first, "10.00", "r1"))  # a redelivery changes nothing

    async def one_row() -> Any:
        states = await outbox_states(gw.sessions, tenant.tenant_id)
        return states if first in states else None

    states = await wait_for(one_row)
    assert len(states) == 1 and states[first].state == "ready"

    await publisher.publish(message(second, "12.00", "r2"))  # Cin7 changed the order

    async def superseded() -> Any:
        states = await outbox_states(gw.sessions, tenant.tenant_id)
        return states if second in states else None

    states = await wait_for(superseded)
    assert states[first].state == "superseded" and states[second].state == "ready"

    # Nothing is sent before a person approves it.
    unapproved = await web_connector(gw, tenant, qb, path).run_session()
    assert qb.company(path).count_by_ref_number("INV42") == 0
    for request_set in unapproved.request_sets:
        assert validation_errors(request_set) == []
    async with unit_of_work(gw.sessions) as db:
        result = await approve(
            db, TenantScope(tenant.tenant_id, "Dana Bookkeeper"), entry_ids=[second]
        )
    assert [a.id for a in result.approved] == [second], result.refused

    report = await web_connector(gw, tenant, qb, path).run_session()
    assert report.completed, report.summary()
    for request_set in report.request_sets:
        assert validation_errors(request_set) == []  # every qbXML we emit is valid
    txn = qb.company(path).transactions("Invoice")
    assert [t.total for t in txn] == [12]

    async def posted() -> Any:
        bodies = await drain(results_q)
        return [b for b in bodies if b["entry_id"] == second and b["outcome"] == "posted"]

    results = await wait_for(posted)
    assert results[0]["txn_id"] == txn[0].txn_id
    assert results[0]["edit_sequence"] == txn[0].edit_sequence
    assert results[0]["tenant_id"] == tenant.tenant_id

    changes = await wait_for(lambda: drain(lists_q))
    by_list = {b["list_type"]: b for b in changes}
    assert {"customer", "item", "account", "sales_tax_item", "terms", "class"} <= set(by_list)
    names = {c["full_name"] for c in by_list["customer"]["changes"]}
    assert {"Acme Corp", "Globex"} <= names

    # Incrementally: only what changed in QuickBooks comes back, with FromModifiedDate.
    qb.company(path).rename_customer("Globex", "Globex Corporation")
    async with unit_of_work(gw.sessions) as db:
        for cursor in (await db.exec(__import__("sqlmodel").select(QbListCursor))).all():
            cursor.refreshed_at = None  # make the mirror due now
            db.add(cursor)
    third = await web_connector(gw, tenant, qb, path).run_session()
    assert third.completed, third.summary()
    assert "<FromModifiedDate>" in third.request_sets[0]

    async def renamed() -> Any:
        bodies = [b for b in await drain(lists_q) if b["list_type"] == "customer"]
        return bodies

    customer_changes = await wait_for(renamed)
    assert [c["full_name"] for b in customer_changes for c in b["changes"]] == [
        "Globex Corporation"
    ]


async def test_results_wait_in_the_database_while_the_broker_is_down(
    sqlite_database_url: str, amqp_url: str, topology: Topology
) -> None:
    """The Web Connector session does not need RabbitMQ; its results are kept and published
    by the next gateway process that reaches the broker."""

    dead_broker = f"amqp://guest:guest@127.0.0.1:{closed_port()}/"
    async with running_gateway(sqlite_database_url, dead_broker, topology.namespace) as gw:
        _gw, tenant, qb, path = await open_tenant(gw)
        ids = await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 61)])
        report = await web_connector(gw, tenant, qb, path).run_session()
        assert report.completed, report.summary()
        async with gw.sessions() as db:
            waiting = (await db.exec(select(GatewayPendingMessage))).all()
        assert any(row.body.get("entry_id") == ids[0] for row in waiting)

    connection = await connect(amqp_url)
    try:
        channel = await connection.channel()
        await declare_topology(channel, topology)
        results_q = await listen(connection, topology, m.EXCHANGE_QB_RESULTS)
        async with running_gateway(sqlite_database_url, amqp_url, topology.namespace):

            async def delivered() -> Any:
                bodies = await drain(results_q)
                return [b for b in bodies if b["entry_id"] == ids[0]]

            found = await wait_for(delivered)
            assert found[0]["outcome"] == "posted"
    finally:
        await connection.close()


async def test_entry_for_an_unknown_tenant_goes_to_the_dead_letter_queue(
    sqlite_database_url: str, amqp_url: str, topology: Topology
) -> None:
    connection = await connect(amqp_url)
    try:
        channel = await connection.channel()
        await declare_topology(channel, topology)
        publisher = await Publisher.open(connection, topology)
        async with running_gateway(sqlite_database_url, amqp_url, topology.namespace):
            ghost = str(uuid.uuid4())
            await publisher.publish(
                m.EntryMessage(
                    entry_id=str(uuid.uuid4()),
                    tenant_id=ghost,
                    entry_kind="invoice",
                    source=m.EntrySource(kind="sales_order", cin7_id="1", revision="r1"),
                    entry=invoice(ghost, 1).model_dump(mode="json"),
                )
            )
            dlq = await channel.get_queue(topology.queue("gateway.qb-entries").dead_letter_queue)

            async def dead() -> Any:
                return await dlq.get(no_ack=True, fail=False)

            letter = await wait_for(dead)
            assert json.loads(letter.body)["tenant_id"] == ghost
            assert "unknown tenant" in str((letter.headers or {}).get("x-omni2qbd-reason"))
    finally:
        await connection.close()
