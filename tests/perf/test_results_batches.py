"""Issue 15: the mapper handles the results of a bulk post in batches per tenant, so each
COGS month's journal gets one new version per batch instead of one per invoice's result;
every result is acknowledged after the batch's commit and the running totals still agree
with the full rebuild."""

from __future__ import annotations

import asyncio
import json
import re
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
from tests.perf.test_batch_reads import _counting

SETTINGS: dict[str, Any] = {"classes": {"branch_class_map": {"3": "East", "4": "West"}}}
ORDERS = 5
_GUID = re.compile(r"\{[0-9A-F-]{36}\}")


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


async def _invoices_in_months(sessions: Sessions, tenant: str, months: int) -> list[list[str]]:
    """Three sales orders in each of ``months`` months, mapped; their invoices' entry ids,
    month by month."""
    payload = load_doc("so_tax_exclusive")
    messages = []
    for month in range(months):
        when = f"2022-{9 + month:02d}-16T09:00:00Z"
        for n in range(3):
            number = 8000 + 10 * month + n
            messages.append(
                doc_message(
                    tenant,
                    "sales_order",
                    {
                        **payload,
                        "id": number,
                        "reference": f"SO-{number}",
                        "invoiceNumber": number,
                        "invoiceDate": when,
                        "dispatchedDate": when,
                    },
                )
            )
    async with unit_of_work(sessions) as session:
        await handlers.handle_documents(messages, session)
    invoices = {r.cin7_id: r.id for r in await rows(sessions, tenant, entry_kind="invoice")}
    return [[invoices[str(8000 + 10 * month + n)] for n in range(3)] for month in range(months)]


async def _statements_of_second_batch(sessions: Sessions, months: int) -> list[str]:
    """A tenant's first invoice of each month posted (its journals exist and are open), then
    the other invoices' results in one batch: that batch's statements."""
    tenant = await make_tenant(sessions, SETTINGS)
    invoices = await _invoices_in_months(sessions, tenant, months)
    async with unit_of_work(sessions) as session:
        await handlers.handle_results(_posted(tenant, [ids[0] for ids in invoices]), session)
    with _counting(sessions) as statements:
        async with unit_of_work(sessions) as session:
            out = await handlers.handle_results(
                _posted(tenant, [i for ids in invoices for i in ids[1:]]), session
            )
    # Each month's journal: the open version superseded, a new version ready.
    journals = [msg for msg in out if isinstance(msg, m.EntryMessage)]
    assert sorted((msg.source.cin7_id, msg.state) for msg in journals) == sorted(
        (f"2022-{9 + month:02d}", state)
        for month in range(months)
        for state in ("superseded", "ready")
    )
    async with sessions() as session:
        assert await cogs_totals.differences(session, tenant) == []
    return statements


async def test_a_batch_of_results_runs_as_many_statements_for_three_months_as_for_one(
    sessions: Sessions,
) -> None:
    """The months a batch rebuilds are read together (``store.Journals``), their totals too
    (``cogs_totals.MonthTotals``), the lists' accounts only (``load_cogs_lists``), and the
    rows it writes are flushed together: no statement per result or per month (issue 15)."""
    one_month = await _statements_of_second_batch(sessions, 1)  # 2 results, 1 month
    three_months = await _statements_of_second_batch(sessions, 3)  # 6 results, 3 months
    assert len(three_months) == len(one_month), (one_month, three_months)
    assert len(one_month) <= 18, one_month
    assert not any("qb_list_items" in s and "list_type" not in s for s in one_month)


async def _journals(sessions: Sessions, tenant: str) -> list[tuple[str, str, str]]:
    """Each month's newest journal: its month, state and body (tenant and GUIDs blanked)."""
    newest = {r.cin7_id: r for r in await rows(sessions, tenant, entry_kind="journal")}
    return [
        (period, row.state, _GUID.sub("GUID", json.dumps(row.body, sort_keys=True)))
        for period, row in sorted(newest.items())
    ]


async def test_months_rebuilt_together_hold_what_one_by_one_holds(sessions: Sessions) -> None:
    """Results in one batch over three months end with the journals the same results one by
    one end with (one version per month instead of one per result)."""
    batched, single = await make_tenant(sessions, SETTINGS), await make_tenant(sessions, SETTINGS)
    invoices = {t: await _invoices_in_months(sessions, t, 3) for t in (batched, single)}
    async with unit_of_work(sessions) as session:
        await handlers.handle_results(
            _posted(batched, [i for ids in invoices[batched] for i in ids]), session
        )
    for result in _posted(single, [i for ids in invoices[single] for i in ids]):
        await deliver(sessions, handlers.handle_result, result)
    batched_journals = await _journals(sessions, batched)
    assert len(batched_journals) == 3
    assert [j[1] for j in batched_journals] == ["ready"] * 3
    assert [(p, s, b.replace(batched, "T")) for p, s, b in batched_journals] == [
        (p, s, b.replace(single, "T")) for p, s, b in await _journals(sessions, single)
    ]
    assert len(await rows(sessions, batched, entry_kind="journal")) == 3


async def test_a_month_emptied_and_counted_again_has_a_live_journal(sessions: Sessions) -> None:
    """An invoice posted, then failed (its month's journal superseded: nothing counts), then
    posted again: the month counts what it counted before, so its journal, whose newest
    version holds exactly those sums, is current again (a new version), not left superseded."""
    tenant = await make_tenant(sessions, SETTINGS)
    invoice = (await _invoices_in_months(sessions, tenant, 1))[0][0]
    states = []
    for outcome in ("posted", "failed", "posted"):
        result = m.ResultMessage(entry_id=invoice, tenant_id=tenant, outcome=outcome)
        await deliver(sessions, handlers.handle_result, result)
        journals = await rows(sessions, tenant, entry_kind="journal")
        states.append([(j.version, j.state) for j in journals])
    assert states == [
        [(1, "ready")],
        [(1, "superseded")],
        [(2, "ready")],  # the same row, current again as a new version
    ]
    async with sessions() as session:
        assert await cogs_totals.differences(session, tenant) == []
