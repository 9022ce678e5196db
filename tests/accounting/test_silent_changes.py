"""Issue 12, point 5: changes QuickBooks' limits force on the data are said, not silent."""

from __future__ import annotations

from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.preview import result_message_set
from tests.accounting.helpers import assert_valid
from tests.mapper.conftest import load_doc, settings_with


def test_cut_address_and_name_parts_are_noted_with_what_was_kept() -> None:
    doc = load_doc("so_tax_exclusive")
    doc["billingCity"] = "Llanfairpwllgwyngyllgogerychwyrndrobwll"  # 39 characters
    doc["firstName"] = "Maximiliana-Josephine-Anastasia"  # 31
    result = map_document("sales_order", doc, settings_with())
    notes = {f.field: f for f in result.all_findings() if f.code == "text_shortened"}
    city = notes["bill address city"]
    assert not city.blocking and "'Llanfairpwllgwyngyllgogerychwyr'" in city.message
    assert "first name" in notes and "'Maximiliana-Josephine-Ana'" in notes["first name"].message
    assert_valid(result_message_set(result, "13.0"))


def test_a_line_account_code_without_mapping_gets_the_promised_note() -> None:
    doc = load_doc("so_tax_exclusive")
    doc["lineItems"][0]["accountCode"] = "4010"
    result = map_document("sales_order", doc, settings_with())
    (note,) = [f for f in result.all_findings() if f.code == "unmapped_account"]
    assert not note.blocking and "4010" in note.message
    assert note.field == "lineItems[0].accountCode"


def test_a_rounding_line_above_a_cent_per_line_is_reported() -> None:
    doc = load_doc("so_tax_exclusive")  # 200.00 of products and 10.00 of freight
    doc.update(taxStatus="Exempt", taxRate=0.0, total=210.04)
    # (an excl/exempt document's difference reads as tax first: allow it there)
    result = map_document("sales_order", doc, settings_with(tax={"tolerance": "0.05"}))
    assert not result.held  # within rounding.tolerance (0.05)
    (note,) = [f for f in result.all_findings() if f.code == "rounding_difference"]
    assert "0.04" in note.message
    # above the tenant's amount it is held instead
    held = map_document("sales_order", doc, settings_with(rounding={"tolerance": "0.00"}))
    assert "totals_do_not_reconcile" in {f.code for f in held.all_findings() if f.blocking}
