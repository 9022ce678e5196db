"""Issue 12, point 2: sales tax can be neither charged twice nor lost."""

from __future__ import annotations

from decimal import Decimal

from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.result import MappingResult
from omni2qbd_shared.entries import Entry, EntryKind
from tests.accounting.helpers import company, mirror, post_result, qb_total
from tests.mapper.conftest import load_doc, settings_with


def invoice_of(result: MappingResult) -> Entry:
    return next(e for e in result.entries if e.kind is EntryKind.INVOICE)


def test_tax_line_mode_never_lets_quickbooks_add_its_own_tax() -> None:
    books = company()
    # An existing customer coded taxable, with a default sales tax item, as most are.
    books.add_customer(
        "Example Ltd", company_name="Example Ltd", sales_tax_code="Tax", sales_tax_item="Sales Tax"
    )
    settings = settings_with(tax={"mode": "tax_line"})
    result = map_document("sales_order", load_doc("so_tax_exclusive"), settings, mirror(books))
    assert not result.held, result.all_findings()
    invoice = invoice_of(result)
    assert {line.tax_code for line in invoice.lines} == {"Non"}
    answers = post_result(books, result)
    # Cin7's 226.50 including its own tax line; QuickBooks added 8.25% on top before.
    assert qb_total(books, answers, invoice) == Decimal("226.50")


def test_a_customer_coded_non_taxable_in_quickbooks_keeps_cin7s_tax() -> None:
    books = company()
    books.add_customer("Example Ltd", company_name="Example Ltd", sales_tax_code="Non")
    result = map_document(
        "sales_order", load_doc("so_tax_exclusive"), settings_with(), mirror(books)
    )
    invoice = invoice_of(result)
    assert invoice.header.customer_tax_code == "Tax"
    # said, not held: the transaction carries the code that matches what Cin7 charged
    assert "customer_tax_code_differs" in {f.code for f in result.all_findings()}
    answers = post_result(books, result)
    assert qb_total(books, answers, invoice) == Decimal("226.50")


def test_a_new_customer_gets_the_code_cin7_charged() -> None:
    books = company()
    result = map_document("sales_order", load_doc("so_tax_exempt"), settings_with(), mirror(books))
    add = next(e for e in result.entries if e.kind is EntryKind.CUSTOMER_ADD)
    # created with a code (the taxable default: the same for all its orders) ...
    assert add.header.contact is not None and add.header.contact.sales_tax_code == "Tax"
    # ... while this exempt invoice says non-taxable itself
    assert invoice_of(result).header.customer_tax_code == "Non"
    answers = post_result(books, result)
    assert qb_total(books, answers, invoice_of(result)) == Decimal(
        str(load_doc("so_tax_exempt")["total"])
    ).quantize(Decimal("0.01"))


def test_taxed_freight_against_the_setting_names_the_setting() -> None:
    doc = load_doc("so_freight_surcharge_taxable")
    only_freight = {**doc, "surcharge": 0.0}
    rate = Decimal(str(doc["taxRate"]))
    net = (
        Decimal(str(doc["productTotal"]))
        + Decimal(str(doc["freightTotal"]))
        - Decimal(str(doc.get("discountTotal") or 0))
    )
    only_freight["total"] = float((net * (1 + rate / 100)).quantize(Decimal("0.01")))
    result = map_document(
        "sales_order", only_freight, settings_with(tax={"freight_taxable": False})
    )
    (mismatch,) = [f for f in result.all_findings() if f.code == "tax_mismatch"]
    assert mismatch.field == "tax.freight_taxable"
    assert "tax.freight_taxable" in mismatch.message and "freight" in mismatch.message


def test_lines_with_their_own_tax_rate_are_called_mixed_tax_rates() -> None:
    doc = load_doc("so_tax_exclusive")
    doc["lineItems"] = [{**doc["lineItems"][0], "taxRate": 5.0}]
    result = map_document("sales_order", doc, settings_with())
    (mixed,) = [f for f in result.all_findings() if f.code == "mixed_tax_rates"]
    assert "mixed tax rates" in mixed.message and mixed.blocking


def test_the_corpus_order_shows_its_freight_was_taxed() -> None:
    # 4.08 of tax is 6% of products and freight (not the surcharge)
    result = map_document("sales_order", load_doc("so_freight_surcharge_taxable"), settings_with())
    (mismatch,) = [f for f in result.all_findings() if f.code == "tax_mismatch"]
    assert mismatch.field == "tax.freight_taxable"
