"""Issue 15: a batch of documents (and of results) reads what its documents ask in a few
queries (``omni2qbd_mapper.prefetch``) instead of a dozen per document; what it stores is what
handling the same messages one by one stores, also when the batch holds two revisions of one
document, two orders of one new customer (one CustomerAdd), a RefNumber collision and a
credit note, and when their invoices' results arrive together."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlmodel import select

from omni2qbd_mapper import cogs_totals, handlers
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.cogs_totals import CogsCounted, CogsMonthTotal
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.models import QbListItem
from tests.mapper.conftest import load_doc
from tests.mapper.test_mapper_store import Sessions, deliver, doc_message, make_tenant, rows
from tests.perf.test_list_change_rechecks import document_ids, held_tenant

_GUID = re.compile(r"\{[0-9A-F-]{36}\}")


def _messages(tenant: str) -> list[m.Cin7DocumentMessage]:
    order = load_doc("so_tax_exclusive")
    same_customer = {
        **order,
        "id": order["id"] + 1,
        "reference": "SO-OTHER",
        "deliveryAddress1": "Another street 9",
    }
    same_reference = {**order, "id": order["id"] + 2}
    return [
        doc_message(tenant, "sales_order", order),
        doc_message(tenant, "sales_order", same_customer),
        doc_message(tenant, "sales_order", same_reference),
        doc_message(tenant, "sales_order", {**order, "comments": "again"}, minute=1),
        doc_message(tenant, "credit_note", load_doc("cn_credit_memo")),
        doc_message(tenant, "purchase_order", load_doc("po_bill")),
    ]


async def _stored(sessions: Sessions, tenant: str) -> list[str]:
    """What the tenant holds, without ids, times and the tenant's own id."""
    async with sessions() as session:
        entries = (await session.exec(select(EntryRow).where(EntryRow.tenant_id == tenant))).all()
        counted = (
            await session.exec(select(CogsCounted).where(CogsCounted.tenant_id == tenant))
        ).all()
        totals = (
            await session.exec(select(CogsMonthTotal).where(CogsMonthTotal.tenant_id == tenant))
        ).all()
    lines: list[Any] = [
        (
            r.entry_kind,
            r.source_kind,
            r.cin7_id,
            r.revision,
            r.version,
            r.state,
            r.ref_number,
            r.txn_date,
            str(r.total),
            r.body,
            r.findings,
        )
        for r in entries
    ]
    lines += [c.model_dump(exclude={"tenant_id"}) for c in counted]
    lines += [t.model_dump(exclude={"tenant_id"}) for t in totals]
    text = [_GUID.sub("GUID", json.dumps(x, sort_keys=True, default=str)) for x in lines]
    return sorted(line.replace(tenant, "TENANT") for line in text)


@contextmanager
def _counting(sessions: Sessions) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_a_batch_stores_what_one_by_one_stores_in_fewer_queries(sessions: Sessions) -> None:
    batched, single = await make_tenant(sessions), await make_tenant(sessions)
    with _counting(sessions) as statements:
        async with unit_of_work(sessions) as session:
            published = await handlers.handle_documents(_messages(batched), session)
    batch_queries = len(statements)
    with _counting(sessions) as statements:
        for message in _messages(single):
            await deliver(sessions, handlers.handle_document, message)
    assert await _stored(sessions, batched) == await _stored(sessions, single)
    assert batch_queries < len(statements)
    assert batch_queries <= 45, batch_queries

    # Their invoices and credit memos reach QuickBooks: results in one batch, or one by one.
    for tenant, mode in ((batched, "batch"), (single, "single")):
        async with sessions() as session:
            rows = (
                await session.exec(
                    select(EntryRow).where(EntryRow.tenant_id == tenant, EntryRow.state == "ready")
                )
            ).all()
        results = [
            m.ResultMessage(entry_id=row.id, tenant_id=tenant, outcome="posted", txn_id=f"T{n}")
            for n, row in enumerate(sorted(rows, key=lambda r: (r.entry_kind, r.cin7_id)))
        ]
        assert results
        if mode == "batch":
            async with unit_of_work(sessions) as session:
                await handlers.handle_results(results, session)
        else:
            for result in results:
                await deliver(sessions, handlers.handle_result, result)
        async with sessions() as session:
            assert await cogs_totals.differences(session, tenant) == []

    def without_journals(lines: list[str]) -> list[str]:
        # A batch of results rebuilds each month once, one by one makes a journal version
        # per result (``BatchingResultsConsumer``): only the journals may differ.
        return [line for line in lines if '"cogs_month"' not in line]

    assert without_journals(await _stored(sessions, batched)) == without_journals(
        await _stored(sessions, single)
    )
    assert any(isinstance(msg, m.EntryMessage) for msg in published)


async def test_list_changes_waiting_together_recheck_held_entries_once(
    sessions: Sessions,
) -> None:
    """The gateway publishes a list change for every customer or vendor it adds; a batch of
    them checks the held entries once against all their names (``handle_lists_batch``)."""
    tenant, adjustment, _order = await held_tenant(sessions)
    async with unit_of_work(sessions) as session:
        session.add(
            QbListItem(tenant_id=tenant, list_type="account", list_id="A3", full_name="Shrinkage")
        )
    changes = [
        m.ListChangesMessage(
            tenant_id=tenant,
            list_type=kind,
            changes=[m.ListChange(list_id=list_id, full_name=name)],
        )
        for kind, list_id, name in (
            ("customer", "C1", "Some New Customer"),
            ("account", "A3", "Shrinkage"),
            ("vendor", "V1", "Some New Vendor"),
        )
    ]
    with _counting(sessions) as statements:
        async with unit_of_work(sessions) as session:
            out = list(await handlers.handle_lists_batch(changes, session))
    # Only the adjustment naming "Shrinkage" was mapped again, and released.
    assert document_ids(out) == {str(adjustment["id"])}
    (journal,) = await rows(sessions, tenant, entry_kind="journal", source_kind="stock_adjustment")
    assert journal.state == "ready"
    # The held entries were read once, not once per change.
    held_reads = [s for s in statements if "entries.state IN" in s and "entry_kind !=" in s]
    assert len(held_reads) == 1, held_reads
