"""The mapper's handlers against a real database (SQLite and PostgreSQL): idempotency,
revisions, re-imports, results, re-evaluation and monthly COGS."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_mapper import handlers
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import (
    ContactMatch,
    FetchedDocument,
    QbListItem,
    Tenant,
    TenantSettingsVersion,
)
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.messaging import PoisonMessage
from omni2qbd_shared.revision import revision_of as canonical_revision
from omni2qbd_shared.tenant_settings import TenantSettings
from tests.mapper.conftest import load_doc, mirror_rows

Sessions = async_sessionmaker[AsyncSession]


async def make_tenant(
    sessions: Sessions, settings: dict[str, Any] | None = None, *, mirrored: bool = True
) -> str:
    """A tenant; ``mirrored``: its QuickBooks lists were read and hold every name the
    settings use (as after the first Web Connector session)."""
    tenant_id = str(uuid.uuid4())
    async with unit_of_work(sessions) as session:
        session.add(
            Tenant(
                id=tenant_id,
                name="Acme",
                qbwc_username=f"u-{tenant_id[:8]}",
                qbwc_password_hash="x",
            )
        )
        if settings is not None:
            await session.flush()
            session.add(
                TenantSettingsVersion(
                    tenant_id=tenant_id, version=1, body=settings, created_by="test"
                )
            )
        if mirrored:
            await session.flush()
            parsed = TenantSettings.model_validate(settings) if settings else None
            for row in mirror_rows(tenant_id, parsed):
                session.add(row)
    return tenant_id


def doc_message(
    tenant_id: str, kind: str, payload: dict[str, Any], minute: int = 0
) -> m.Cin7DocumentMessage:
    return m.Cin7DocumentMessage(
        tenant_id=tenant_id,
        kind=kind,
        cin7_id=str(payload["id"] if "id" in payload else payload["period"]),
        revision=canonical_revision(payload),
        modified_date=datetime(2026, 1, 1, 0, minute, tzinfo=UTC),
        fetched_at=datetime.now(UTC),
        payload=payload,
    )


def entry_ids(published: list[m.Message]) -> list[str]:
    """The entry ids of what a handler published, every message an entry."""
    ids = [msg.entry_id for msg in published if isinstance(msg, m.EntryMessage)]
    assert len(ids) == len(published), published
    return ids


async def deliver(sessions: Sessions, handler: Any, message: Any) -> list[m.Message]:
    async with unit_of_work(sessions) as session:
        return list(await handler(message, session))


async def rows(sessions: Sessions, tenant_id: str, **where: Any) -> list[EntryRow]:
    async with sessions() as session:
        statement = scoped(EntryRow, tenant_id)
        for key, value in where.items():
            statement = statement.where(getattr(EntryRow, key) == value)
        statement = statement.order_by(col(EntryRow.created_at), col(EntryRow.version))
        return list((await session.exec(statement)).all())


def states(messages: list[m.Message]) -> list[tuple[str, str]]:
    return [(msg.entry_kind, msg.state) for msg in messages if isinstance(msg, m.EntryMessage)]


async def test_document_becomes_entries_once_and_redelivery_changes_nothing(
    sessions: Sessions,
) -> None:
    tenant = await make_tenant(sessions)
    message = doc_message(tenant, "sales_order", load_doc("so_tax_exclusive"))
    first = await deliver(sessions, handlers.handle_document, message)
    assert states(first) == [("customer_add", "ready"), ("invoice", "ready")]
    invoice = next(
        msg for msg in first if isinstance(msg, m.EntryMessage) and msg.entry_kind == "invoice"
    )
    assert invoice.entry["total"] == "226.50" and invoice.source.cin7_id == "2221"
    assert invoice.routing_key() == f"{tenant}.invoice"
    stored = await rows(sessions, tenant, entry_kind="invoice")
    assert [(r.state, r.version, r.ref_number, r.txn_date) for r in stored] == [
        ("ready", 1, "SO-2221", "2022-09-16")
    ]
    # COGS follows the revenue: no COGS journal while the invoice is not in QuickBooks.
    assert await rows(sessions, tenant, source_kind="cogs_month") == []

    again = await deliver(sessions, handlers.handle_document, message)
    assert entry_ids(again) == entry_ids(first)
    assert len(await rows(sessions, tenant)) == 3

    # Once the invoice is posted, September 2022's journal is built from its contribution.
    (row,) = stored
    result = m.ResultMessage(entry_id=row.id, tenant_id=tenant, outcome="posted", txn_id="T-1")
    out = await deliver(sessions, handlers.handle_result, result)
    assert states(out) == [("journal", "ready")]
    (month,) = await rows(sessions, tenant, source_kind="cogs_month")
    assert month.cin7_id == "2022-09" and month.total is not None
    assert Decimal(month.total) == Decimal("85.00")
    # the invoice is a pending draft (sales.is_pending): counted, and said so
    assert any(f["code"] == "cogs_includes_pending" for f in month.findings)


async def test_new_revision_supersedes_unsent_entry_and_reimports_posted(
    sessions: Sessions,
) -> None:
    tenant = await make_tenant(sessions)
    v1 = load_doc("so_tax_exclusive")
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", v1))
    v2 = {**v1, "customerOrderNo": "PO-779"}
    out = await deliver(
        sessions, handlers.handle_document, doc_message(tenant, "sales_order", v2, 1)
    )
    assert ("invoice", "superseded") in states(out) and ("invoice", "ready") in states(out)
    invoices = await rows(sessions, tenant, entry_kind="invoice")
    assert [(r.state, r.version) for r in invoices] == [("superseded", 1), ("ready", 2)]

    posted = invoices[1]
    result = m.ResultMessage(entry_id=posted.id, tenant_id=tenant, outcome="posted", txn_id="T-1")
    # the posted invoice brings its COGS into the month's journal
    assert states(await deliver(sessions, handlers.handle_result, result)) == [("journal", "ready")]
    v3 = {**v2, "customerOrderNo": "PO-780"}
    out = await deliver(
        sessions, handlers.handle_document, doc_message(tenant, "sales_order", v3, 2)
    )
    invoices = await rows(sessions, tenant, entry_kind="invoice")
    assert [(r.state, r.version) for r in invoices] == [
        ("superseded", 1),
        ("posted", 2),
        ("ready", 3),
    ]
    assert ("invoice", "superseded") not in states(out)


async def test_void_after_posting_creates_a_reversal_and_voids_unsent(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    bill_doc = load_doc("po_bill")
    await deliver(
        sessions, handlers.handle_document, doc_message(tenant, "purchase_order", bill_doc)
    )
    (bill,) = await rows(sessions, tenant, entry_kind="bill")
    await deliver(
        sessions,
        handlers.handle_result,
        m.ResultMessage(entry_id=bill.id, tenant_id=tenant, outcome="posted"),
    )
    voided = {**bill_doc, "isVoid": True, "status": "VOID"}
    out = await deliver(
        sessions, handlers.handle_document, doc_message(tenant, "purchase_order", voided, 1)
    )
    assert states(out) == [("journal", "ready")]
    (reversal,) = await rows(sessions, tenant, entry_kind="journal")
    assert reversal.cin7_id == "5120:void:bill" and reversal.body["subkind"] == "reversal"

    so = load_doc("so_tax_exclusive")
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", so))
    out = await deliver(
        sessions,
        handlers.handle_document,
        doc_message(tenant, "sales_order", {**so, "isVoid": True, "status": "VOID"}, 1),
    )
    assert ("invoice", "superseded") in states(out)
    (invoice,) = await rows(sessions, tenant, entry_kind="invoice")
    assert invoice.state == "void"
    # The voided order never reached QuickBooks, so its cost never entered a COGS journal.
    assert await rows(sessions, tenant, source_kind="cogs_month") == []


async def test_held_entry_is_reevaluated_when_settings_change(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    payload = load_doc("so_foreign_currency")
    message = doc_message(tenant, "sales_order", payload)
    async with unit_of_work(sessions) as session:
        session.add(
            FetchedDocument(
                tenant_id=tenant,
                kind="sales_order",
                cin7_id=message.cin7_id,
                revision=message.revision,
                modified_date=message.modified_date,
                payload=payload,
            )
        )
    await deliver(sessions, handlers.handle_document, message)
    (invoice,) = await rows(sessions, tenant, entry_kind="invoice")
    assert invoice.state == "needs_attention"
    assert any(f["code"] == "foreign_currency" for f in invoice.findings)

    body = TenantSettings(multi_currency=True).model_dump(mode="json")
    async with unit_of_work(sessions) as session:
        session.add(
            TenantSettingsVersion(tenant_id=tenant, version=1, body=body, created_by="bookkeeper")
        )
    event = m.TenantEventMessage(tenant_id=tenant, event="settings_saved", actor="bookkeeper")
    out = await deliver(sessions, handlers.handle_tenant_event, event)
    assert ("invoice", "ready") in states(out)
    (invoice,) = await rows(sessions, tenant, entry_kind="invoice")
    assert (invoice.state, invoice.version) == ("ready", 2)
    assert Decimal(invoice.body["header"]["exchange_rate"]) == Decimal("0.625")


async def test_list_change_releases_an_entry_held_for_a_missing_account(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    async with unit_of_work(sessions) as session:
        for list_id, name in (("A1", "Inventory Asset"), ("A2", "Inventory Adjustments")):
            session.add(
                QbListItem(tenant_id=tenant, list_type="account", list_id=list_id, full_name=name)
            )
    payload = load_doc("adj_stock_adjustment")
    message = doc_message(tenant, "stock_adjustment", payload)
    await deliver(sessions, handlers.handle_document, message)
    (journal,) = await rows(sessions, tenant, entry_kind="journal")
    assert journal.state == "ready"

    settings = TenantSettings().model_dump(mode="json")
    settings["accounts"]["account_map"] = {"5010": "Shrinkage"}
    async with unit_of_work(sessions) as session:
        session.add(
            TenantSettingsVersion(tenant_id=tenant, version=1, body=settings, created_by="x")
        )
        session.add(
            FetchedDocument(
                tenant_id=tenant,
                kind="stock_adjustment",
                cin7_id="610",
                revision=message.revision,
                payload=payload,
            )
        )
    await deliver(
        sessions,
        handlers.handle_tenant_event,
        m.TenantEventMessage(tenant_id=tenant, event="settings_saved"),
    )
    (journal,) = await rows(sessions, tenant, entry_kind="journal")
    assert journal.state == "needs_attention"  # QuickBooks has no "Shrinkage" account
    assert any("Shrinkage" in f["message"] for f in journal.findings)

    async with unit_of_work(sessions) as session:
        session.add(
            QbListItem(tenant_id=tenant, list_type="account", list_id="A3", full_name="Shrinkage")
        )
    changes = m.ListChangesMessage(
        tenant_id=tenant,
        list_type="account",
        changes=[m.ListChange(list_id="A3", full_name="Shrinkage")],
    )
    out = await deliver(sessions, handlers.handle_lists, changes)
    assert states(out) == [("journal", "ready")]


async def test_unknown_tenant_and_unreadable_document_are_poison(sessions: Sessions) -> None:
    with pytest.raises(PoisonMessage, match="does not exist"):
        await deliver(
            sessions,
            handlers.handle_document,
            doc_message("nobody", "sales_order", load_doc("so_void")),
        )
    tenant = await make_tenant(sessions)
    bad = {**load_doc("so_tax_exclusive"), "total": "lots"}
    with pytest.raises(PoisonMessage, match="cannot be read"):
        await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", bad))


async def test_stale_redelivery_does_not_replace_a_newer_revision(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    old = load_doc("po_bill")
    new = {**old, "supplierInvoiceReference": "INV-88813"}
    old_msg = doc_message(tenant, "purchase_order", old, 0)
    new_msg = doc_message(tenant, "purchase_order", new, 5)
    async with unit_of_work(sessions) as session:
        for msg in (old_msg, new_msg):
            session.add(
                FetchedDocument(
                    tenant_id=tenant,
                    kind="purchase_order",
                    cin7_id="5120",
                    revision=msg.revision,
                    modified_date=msg.modified_date,
                    payload=msg.payload,
                )
            )
    await deliver(sessions, handlers.handle_document, new_msg)
    assert await deliver(sessions, handlers.handle_document, old_msg) == []
    (bill,) = await rows(sessions, tenant, entry_kind="bill")
    assert bill.ref_number == "INV-88813" and bill.state == "ready"


async def test_ref_number_held_by_another_document_gets_a_suffix(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    first = load_doc("so_tax_exclusive")
    second = {**first, "id": 3001}  # same reference, different Cin7 order
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", first))
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", second))
    refs = sorted(r.ref_number or "" for r in await rows(sessions, tenant, entry_kind="invoice"))
    assert refs == ["SO-2221", "SO-2221-2"]


async def test_contact_document_keeps_the_customer_add_its_orders_need(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    order = load_doc("so_tax_exclusive")
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", order))
    (customer_add,) = await rows(sessions, tenant, entry_kind="customer_add")
    contact = {"id": int(customer_add.cin7_id), "company": "Anything", "type": "Customer"}
    out = await deliver(sessions, handlers.handle_document, doc_message(tenant, "contact", contact))
    assert not [msg for msg in out if isinstance(msg, m.EntryMessage) and msg.state == "superseded"]
    (still,) = await rows(sessions, tenant, entry_kind="customer_add")
    assert still.state == "ready"


async def test_another_order_of_the_same_customer_keeps_one_customer_add(
    sessions: Sessions,
) -> None:
    tenant = await make_tenant(sessions)
    first = load_doc("so_tax_exclusive")
    second = {
        **first,
        "id": first["id"] + 1,
        "reference": "SO-OTHER",
        "deliveryAddress1": "Another street 9",
    }
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", first))
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", second))
    adds = await rows(sessions, tenant, entry_kind="customer_add")
    assert [row.state for row in adds] == ["ready"]


async def test_a_confirmed_match_withdraws_the_customer_add_it_replaces(
    sessions: Sessions,
) -> None:
    """Matched to an existing QuickBooks customer, the Cin7 contact needs no CustomerAdd: left
    ready, "approve all" would create a second customer beside the one the bookkeeper chose."""
    tenant = await make_tenant(sessions)
    order = load_doc("so_tax_exclusive")
    message = doc_message(tenant, "sales_order", order)
    async with unit_of_work(sessions) as session:  # as the fetcher keeps it
        session.add(
            FetchedDocument(
                tenant_id=tenant,
                kind="sales_order",
                cin7_id=message.cin7_id,
                revision=message.revision,
                modified_date=message.modified_date,
                payload=order,
            )
        )
    await deliver(sessions, handlers.handle_document, message)
    (customer_add,) = await rows(sessions, tenant, entry_kind="customer_add")
    assert customer_add.state == "ready"
    async with unit_of_work(sessions) as session:
        session.add(
            QbListItem(
                tenant_id=tenant, list_type="customer", list_id="C-77", full_name="Existing Co"
            )
        )
        session.add(
            ContactMatch(
                tenant_id=tenant,
                cin7_kind="customer",
                cin7_id=customer_add.cin7_id,
                qb_list_type="customer",
                qb_list_id="C-77",
                qb_name="Existing Co",
                confirmed_by="bookkeeper",
            )
        )
    event = m.TenantEventMessage(tenant_id=tenant, event="match_confirmed", actor="bookkeeper")
    out = await deliver(sessions, handlers.handle_tenant_event, event)
    assert ("customer_add", "superseded") in states(out)
    assert [r.state for r in await rows(sessions, tenant, entry_kind="customer_add")] == [
        "superseded"
    ]
    invoices = [r for r in await rows(sessions, tenant, entry_kind="invoice") if r.state == "ready"]
    assert len(invoices) == 1
    assert invoices[0].body["header"]["party"]["name"] == "Existing Co"
    assert not invoices[0].body.get("depends_on")
