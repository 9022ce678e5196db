"""Issue 15: the gateway stores a tenant's waiting ``qb.entries`` in one transaction
(``outbox.upsert_entries``, ``BatchingEntriesConsumer``): the tenant locked once, the batch's
stored entries, their documents' versions, the auto-approve rule, its dependencies' links and
the settings version read once each. What it stores is what handling the same messages one by
one stores, also with two versions of one document in both arrival orders, redeliveries,
withdrawals, re-derived entries and auto-approved entries with dependencies; a poison message
in a batch is dead-lettered alone while the others are stored."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.app import BatchingEntriesConsumer, create_app
from omni2qbd_gateway.outbox import upsert_entries, upsert_entry
from omni2qbd_shared import messages as m
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.models import AuditLog, OutboxItem, QbLink
from omni2qbd_shared.db.tenant_options import TenantOptions
from omni2qbd_shared.entries import Entry
from omni2qbd_shared.messaging import Publisher, Topology, connect, declare_topology, reason_of
from tests.api.api_helpers import blocked
from tests.conftest import AMQP_URL
from tests.gateway.gateway_helpers import bill, customer_add, invoice, new_tenant
from tests.mapper.test_mapper_service import take
from tests.perf.test_batch_reads import _counting

Sessions = async_sessionmaker[AsyncSession]
_GUID = re.compile(r"\{[0-9A-F-]{36}\}")


def _id(tenant: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{name}"))


def _message(
    tenant: str, name: str, entry: Entry, *, version: int = 1, state: str = "ready"
) -> m.EntryMessage:
    return m.EntryMessage(
        entry_id=_id(tenant, name),
        tenant_id=tenant,
        entry_kind=entry.kind.value,
        version=version,
        state=state,
        source=m.EntrySource(
            kind=entry.source.kind, cin7_id=entry.source.cin7_id, revision=entry.source.revision
        ),
        entry=entry.model_dump(mode="json"),
    )


def _withdrawn(message: m.EntryMessage) -> m.EntryMessage:
    return message.model_copy(update={"state": "superseded"})


def _stored_before(tenant: str) -> list[m.EntryMessage]:
    """What the tenant's outbox holds before the batch (delivered one by one)."""
    return [
        _message(tenant, "a1", invoice(tenant, 1, amount="900.00")),  # above the rule's total
        _message(tenant, "w1", invoice(tenant, 2, amount="900.00")),
        _message(tenant, "r1", bill(tenant, 3)),
        _message(tenant, "d1", invoice(tenant, 4, amount="700.00")),
        _message(
            tenant,
            "h1",
            blocked(customer_add(tenant, "42", "Held Customer"), "name too long"),
            state="held",
        ),
    ]


def _batch(tenant: str) -> list[m.EntryMessage]:
    """One tenant's waiting entries, in arrival order."""
    twice = _message(tenant, "b2", invoice(tenant, 5, amount="120.00", revision="r2"), version=2)
    late = _message(tenant, "e1", invoice(tenant, 12, amount="50.00"))
    depends = invoice(tenant, 7, amount="200.00", depends_on=["customer_add:contact:41"])
    rederived = invoice(tenant, 4, amount="700.00", item="Re-derived")
    return [
        # Two versions of one document, the older first, then the newer first.
        _message(tenant, "b1", invoice(tenant, 5, amount="100.00")),
        twice,
        _message(tenant, "c2", invoice(tenant, 6, amount="900.00", revision="r2"), version=2),
        _message(tenant, "c1", invoice(tenant, 6, amount="90.00")),
        # A newer version of a stored entry; a withdrawal; a redelivery; a duplicate.
        _message(tenant, "a2", invoice(tenant, 1, amount="150.00", revision="r2"), version=2),
        _withdrawn(_stored_before(tenant)[1]),
        _stored_before(tenant)[2],
        twice,
        _message(tenant, "d1", rederived),
        # Auto-approval: a new customer arriving with its invoice, a held one, one already in
        # QuickBooks, one never prepared; a kind the rule leaves alone; a held invoice.
        _message(tenant, "n1", customer_add(tenant, "41", "New Customer Ltd")),
        _message(tenant, "i7", depends),
        _message(tenant, "i8", invoice(tenant, 8, depends_on=["customer_add:contact:42"])),
        _message(tenant, "i9", invoice(tenant, 9, depends_on=["customer_add:contact:43"])),
        _message(tenant, "i10", invoice(tenant, 10, depends_on=["customer_add:contact:44"])),
        _message(tenant, "bill11", bill(tenant, 11)),
        _message(tenant, "held13", blocked(invoice(tenant, 13), "no match"), state="held"),
        # Withdrawn before it ever arrived; arrived and withdrawn in the same batch.
        _withdrawn(_message(tenant, "ghost", invoice(tenant, 14))),
        late,
        _withdrawn(late),
    ]


async def _tenant_with_rule(sessions: Sessions) -> str:
    tenant = (await new_tenant(sessions)).tenant_id
    async with unit_of_work(sessions) as db:
        db.add(
            TenantOptions(
                tenant_id=tenant,
                auto_approve=True,
                auto_approve_kinds=["invoice"],
                auto_approve_max_total=Decimal("500.00"),
            )
        )
        db.add(
            QbLink(
                tenant_id=tenant,
                entry_kind="customer_add",
                source_kind="contact",
                cin7_id="43",
                entry_id=_id(tenant, "in-quickbooks"),
                qb_txn_type="Customer",
                txn_id="80000043-1",
                edit_sequence="1",
            )
        )
    for message in _stored_before(tenant):
        async with unit_of_work(sessions) as db:
            await upsert_entry(message, db)
    return tenant


async def _stored(sessions: Sessions, tenant: str) -> list[str]:
    """The tenant's outbox and audit log, without times, with names for ids."""
    names = {_id(tenant, name): name for name in _NAMES}
    async with sessions() as db:
        items = (await db.exec(select(OutboxItem).where(OutboxItem.tenant_id == tenant))).all()
        audit = (await db.exec(select(AuditLog).where(AuditLog.tenant_id == tenant))).all()
    lines: list[Any] = [
        row.model_dump(exclude={"updated_at", "approved_at", "tenant_id"}) for row in items
    ]
    lines += [row.model_dump(exclude={"id", "at", "tenant_id"}) for row in audit]
    text = [json.dumps(line, sort_keys=True, default=str) for line in lines]
    out = []
    for line in text:
        for entry_id, name in names.items():
            line = line.replace(entry_id, name)
        out.append(_GUID.sub("GUID", line).replace(tenant, "TENANT"))
    return sorted(out)


_NAMES = (
    *("a1", "a2", "w1", "r1", "d1", "h1", "b1", "b2", "c1", "c2", "n1", "i7", "i8", "i9"),
    *("i10", "bill11", "held13", "ghost", "e1", "in-quickbooks"),
)


def _reads(statements: list[str], table: str) -> int:
    return sum(1 for s in statements if s.lstrip().startswith("SELECT") and f"FROM {table}" in s)


async def test_a_batch_stores_what_one_by_one_stores_in_fewer_statements(
    sessions: Sessions,
) -> None:
    batched, single = await _tenant_with_rule(sessions), await _tenant_with_rule(sessions)
    with _counting(sessions) as statements:
        async with unit_of_work(sessions) as db:
            assert await upsert_entries(_batch(batched), db) == []
    batch_statements = list(statements)
    with _counting(sessions) as statements:
        for message in _batch(single):
            async with unit_of_work(sessions) as db:
                await upsert_entry(message, db)
    one_by_one = list(statements)

    assert await _stored(sessions, batched) == await _stored(sessions, single)
    names = {_id(batched, name): name for name in _NAMES}
    async with sessions() as db:
        rows = (await db.exec(select(OutboxItem).where(OutboxItem.tenant_id == batched))).all()
    stored = {names[row.entry_id]: row for row in rows}
    expected = {
        "a1": "superseded", "a2": "approved", "w1": "superseded", "r1": "ready",
        "d1": "ready", "h1": "held", "b1": "superseded", "b2": "approved",
        "c1": "superseded", "c2": "ready", "n1": "approved", "i7": "approved",
        "i8": "ready", "i9": "approved", "i10": "ready", "bill11": "ready",
        "held13": "held", "e1": "superseded",
    }  # fmt: skip
    assert {name: row.state for name, row in stored.items()} == expected
    assert stored["d1"].body["lines"][0]["item"]["name"] == "Re-derived"
    assert (stored["c1"].last_status_message or "").startswith("arrived after the newer version 2")
    assert {row.approved_by for row in stored.values() if row.state == "approved"} == {
        "auto-approve rule"
    }

    # The batch's reads were made once, however many entries asked them.
    assert _reads(batch_statements, "tenants") == 1
    assert _reads(batch_statements, "outbox") == 2  # the entries by id, their versions
    assert _reads(batch_statements, "tenant_options") == 1
    assert _reads(batch_statements, "qb_links") == 1
    assert _reads(batch_statements, "tenant_settings_versions") == 1
    assert _reads(one_by_one, "tenants") == len(_batch(single))

    assert len(batch_statements) * 2 < len(one_by_one), (len(batch_statements), len(one_by_one))


async def test_a_batch_of_redeliveries_reads_nothing_more(sessions: Sessions) -> None:
    tenant = await _tenant_with_rule(sessions)
    before = await _stored(sessions, tenant)
    with _counting(sessions) as statements:
        async with unit_of_work(sessions) as db:
            await upsert_entries(_stored_before(tenant), db)
    assert await _stored(sessions, tenant) == before
    assert [s.split()[0] for s in statements if s.split()[0] in ("SELECT", "INSERT", "UPDATE")] == [
        "SELECT",  # the tenant, locked
        "SELECT",  # the entries by id
    ]


async def test_an_entry_of_another_tenant_refuses_the_batch(sessions: Sessions) -> None:
    tenant, other = await _tenant_with_rule(sessions), await _tenant_with_rule(sessions)
    stolen = _stored_before(other)[0].model_copy(update={"tenant_id": tenant})
    with pytest.raises(Exception, match="already belongs to another tenant"):
        async with unit_of_work(sessions) as db:
            await upsert_entries([*_batch(tenant)[:3], stolen], db)
    with pytest.raises(ValueError, match="one tenant"):
        async with unit_of_work(sessions) as db:
            await upsert_entries([_batch(tenant)[0], _batch(other)[0]], db)


@pytest.mark.rabbitmq
async def test_waiting_entries_are_stored_in_batches_and_poison_goes_alone(
    database_url: str, topology: Topology
) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    first, second = await _tenant_with_rule(sessions), await _tenant_with_rule(sessions)
    # An entry id the second tenant already holds, sent as the first tenant's: poison.
    stolen = _stored_before(second)[0].model_copy(update={"tenant_id": first})
    connection = await connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await declare_topology(channel, topology)
        publisher = await Publisher.open(connection, topology)
        # Everything waits in the queue before the gateway starts, so deliveries arrive together.
        for message in [*_batch(first)[:5], stolen, *_batch(first)[5:]]:
            await publisher.publish(message)
        for message in _batch(second)[:6]:
            await publisher.publish(message)
        sent = len(_batch(first)) + 1 + 6

        app = create_app(
            AppSettings(
                environment="development",
                database_url=database_url,
                amqp_url=AMQP_URL,
                amqp_namespace=topology.namespace,
                message_retry_delay_ms=300,
                log_json=False,
                gateway_prefetch=50,
            )
        )
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(app.state.runtime.started.wait(), 20)
            (entries,) = [
                c for c in app.state.runtime.consumers if isinstance(c, BatchingEntriesConsumer)
            ]
            dlq = topology.queue("gateway.qb-entries").dead_letter_queue
            (dead,) = await take(channel, dlq, 1)
            assert dead["body"]["entry_id"] == stolen.entry_id
            assert "another tenant" in (reason_of(dead["headers"]) or "")
            for _ in range(300):
                if entries.processed >= sent - 1:
                    break
                await asyncio.sleep(0.05)
            assert entries.processed == sent - 1 and entries.dead_lettered == 1
            assert entries.batches >= 1  # several entries shared a transaction
        # The first tenant's batch failed on the poison message and was stored one by one:
        # what a batch without it stores (the poison changed nothing of the second tenant's).
        reference = await _tenant_with_rule(sessions)
        async with unit_of_work(sessions) as db:
            await upsert_entries(_batch(reference), db)
        assert await _stored(sessions, first) == await _stored(sessions, reference)
        async with sessions() as db:
            row = await db.get(OutboxItem, stolen.entry_id)
        assert row is not None and row.tenant_id == second and row.version == 1
        queue = await channel.declare_queue(topology.queue("gateway.qb-entries").name, passive=True)
        assert queue.declaration_result.message_count == 0
        await publisher.close()
    finally:
        await connection.close()
        await engine.dispose()
