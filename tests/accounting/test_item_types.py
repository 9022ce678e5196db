"""Issue 12, point 3: only Non-inventory, Service, Other Charge and Discount items (per role)
carry the bridge's lines; an Inventory Part would double COGS in QuickBooks."""

from __future__ import annotations

from decimal import Decimal

from omni2qbd_mapper.mapping import map_document
from omni2qbd_shared.entries import EntryKind
from tests.accounting.helpers import company, mirror, post_result
from tests.mapper.conftest import load_doc, settings_with


def test_an_inventory_part_named_like_the_cin7_code_holds_the_invoice() -> None:
    books = company()
    books.add_item("SKU-1", item_type="ItemInventory", account="Sales", cost="42.50")
    result = map_document(
        "sales_order", load_doc("so_tax_exclusive"), settings_with(), mirror(books)
    )
    assert result.held
    (finding,) = [f for f in result.all_findings() if f.code == "item_type_not_allowed"]
    assert "Inventory Part" in finding.message and "Non-inventory Part" in finding.message
    assert finding.field == "lineItems[0].code"


def test_a_settings_item_of_the_wrong_type_names_the_setting() -> None:
    books = company()
    books.add_item("Shipping", item_type="ItemInventory", account="Freight Income")
    result = map_document(
        "sales_order",
        load_doc("so_tax_exclusive"),
        settings_with(items={"freight_item": "Shipping"}),
        mirror(books),
    )
    (finding,) = [f for f in result.all_findings() if f.code == "item_type_not_allowed"]
    assert finding.field == "items.freight_item"


def test_the_simulator_posts_inventory_cogs_so_double_cogs_shows() -> None:
    """What the hold prevents: the same invoice forced through with the Inventory Part."""
    books = company()
    books.add_item("SKU-1", item_type="ItemInventory", account="Sales", cost="42.50")
    settings = settings_with(sales={"is_pending": False})
    result = map_document("sales_order", load_doc("so_tax_exclusive"), settings, mirror(books))
    for entry in result.entries:
        entry.findings = [f for f in entry.findings if f.code != "item_type_not_allowed"]
    answers = post_result(books, result)
    assert all(a.code == "0" for a in answers.values())
    invoice = next(e for e in result.entries if e.kind is EntryKind.INVOICE)
    assert invoice.lines[0].item is not None and invoice.lines[0].item.name == "SKU-1"
    # QuickBooks booked 2 x 42.50 of COGS itself, on top of the bridge's COGS journal.
    assert books.inventory_cogs() == Decimal("85.00")
