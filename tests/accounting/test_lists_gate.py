"""Issue 12, point 11: nothing is ready before it was checked against QuickBooks' lists."""

from __future__ import annotations

from omni2qbd_mapper import handlers
from omni2qbd_mapper.mapping import map_document
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import FetchedDocument
from omni2qbd_shared.qb_lists import REQUIRED_LISTS, QbListElement, QbLists
from omni2qbd_shared.tenant_settings import TenantSettings
from tests.mapper.conftest import load_doc, mirror_rows, settings_with
from tests.mapper.test_mapper_store import Sessions, deliver, doc_message, make_tenant, rows


async def test_entries_wait_for_the_lists_and_are_rechecked_when_they_arrive(
    sessions: Sessions,
) -> None:
    tenant = await make_tenant(sessions, mirrored=False)
    payload = load_doc("so_tax_exclusive")
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
    (waiting,) = [f for f in invoice.findings if f["code"] == "waiting_for_quickbooks_lists"]
    assert "waiting for QuickBooks' lists" in waiting["message"] and waiting["blocking"]

    # The first Web Connector session reads the lists; the list change re-checks the entry.
    async with unit_of_work(sessions) as session:
        for row in mirror_rows(tenant):
            session.add(row)
    change = m.ListChangesMessage(tenant_id=tenant, list_type="account", changes=[])
    await deliver(sessions, handlers.handle_lists, change)
    (invoice,) = await rows(sessions, tenant, entry_kind="invoice")
    assert invoice.state == "ready", invoice.findings


def read_company(**lists: list[QbListElement]) -> QbLists:
    """A tenant view whose every list was read from QuickBooks; only ``lists`` have names."""
    view = QbLists.for_tenant(REQUIRED_LISTS)
    assert set(lists) <= set(REQUIRED_LISTS), set(lists) - set(REQUIRED_LISTS)
    for name in REQUIRED_LISTS:  # typed names, where the keyword names are plain strings
        if name in lists:
            view.add(name, lists[name])
    return view


def test_a_settings_name_quickbooks_lacks_is_a_finding_naming_the_setting() -> None:
    settings = TenantSettings()
    accounts = [
        QbListElement(f"A{i}", name)
        for i, name in enumerate(
            v for v in settings.accounts.model_dump().values() if isinstance(v, str)
        )
    ]
    items = [
        QbListElement("I1", "Cin7 Product", item_type="ItemNonInventory"),
        QbListElement("I2", "Freight", item_type="ItemOtherCharge"),
        QbListElement("I3", "Rounding", item_type="ItemOtherCharge"),
    ]
    # The company file has no sales tax item at all: the default "Sales Tax" does not exist.
    result = map_document(
        "sales_order",
        load_doc("so_tax_exclusive"),
        settings,
        read_company(account=accounts, item=items),
    )
    assert result.held
    (missing,) = [f for f in result.all_findings() if f.code == "unmapped_tax_item"]
    assert "tax.default_tax_item" in missing.message and missing.field == "tax.default_tax_item"


def test_account_mode_names_the_exact_account_setting() -> None:

    settings = settings_with(sales={"line_mode": "account"})
    accounts = [QbListElement("A1", "Accounts Receivable")]  # no Sales, no Freight Income
    result = map_document(
        "sales_order", load_doc("so_tax_exclusive"), settings, read_company(account=accounts)
    )
    fields = {f.field for f in result.all_findings() if f.code == "unmapped_account"}
    assert {"accounts.income", "accounts.freight_income"} <= fields


async def test_a_shared_customer_add_keeps_its_version_across_its_orders(
    sessions: Sessions,
) -> None:
    """Each order carries its own address; the CustomerAdd they share stays one version, so
    an approval of it is never taken away by the next order of that customer."""
    tenant = await make_tenant(sessions)
    first = load_doc("so_tax_exclusive")
    second = {**first, "id": 5001, "reference": "SO-5001", "deliveryAddress1": "9 Other Rd"}
    exempt = {**first, "id": 5002, "reference": "SO-5002", "taxStatus": "Exempt", "total": 210.0}
    for payload in (first, second, exempt):
        await deliver(
            sessions, handlers.handle_document, doc_message(tenant, "sales_order", payload)
        )
    (add,) = await rows(sessions, tenant, entry_kind="customer_add")
    assert (add.state, add.version) == ("ready", 1)
