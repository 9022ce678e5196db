"""Entries for the corpus of realistic Cin7 documents, with amounts worked out by hand.

Default settings: perpetual, item line mode, sales-tax-item mode, America/New_York, USD,
monthly COGS, pending invoices, unmatched contacts created on import.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.result import DocumentStatus, MappingResult
from omni2qbd_shared.entries import Entry, EntryKind, JournalSubkind, LineRole, Side
from omni2qbd_shared.tenant_settings import TenantSettings
from tests.mapper.conftest import load_doc, settings_with

D = Decimal


def run(
    name: str, settings: TenantSettings | None = None, kind: str | None = None
) -> MappingResult:
    return map_document(kind, load_doc(name), settings or TenantSettings())


def main_entry(result: MappingResult) -> Entry:
    return next(e for e in result.entries if not e.is_list_add)


def amounts(entry: Entry) -> list[tuple[str, Decimal]]:
    return [(line.role.value, line.amount) for line in entry.lines]


def codes(result: MappingResult) -> set[str]:
    return {f.code for f in result.all_findings()}


def test_tax_exclusive_invoice_with_freight() -> None:
    # 2 x 100.00 taxable at 8.25% = 16.50 tax; freight 10.00 not taxable; Cin7 total 226.50.
    result = run("so_tax_exclusive")
    assert result.status is DocumentStatus.READY
    customer, invoice = result.entries
    assert customer.kind is EntryKind.CUSTOMER_ADD
    assert customer.header.contact is not None and customer.header.contact.name == "Example Ltd"
    assert invoice.kind is EntryKind.INVOICE
    assert invoice.depends_on == [customer.key]
    assert amounts(invoice) == [("product", D("200.00")), ("freight", D("10.00"))]
    assert [line.tax_code for line in invoice.lines] == ["Tax", "Non"]
    assert invoice.header.computed_tax == D("16.50")
    assert invoice.total == D("226.50")
    assert invoice.ref_number == "SO-2221"
    assert invoice.txn_date == date(2022, 9, 16)
    assert invoice.header.po_number == "PO-778"
    assert invoice.header.is_pending is True
    assert invoice.header.sales_tax_item is not None
    assert invoice.header.sales_tax_item.name == "Sales Tax"
    assert invoice.lines[0].qty == D("2") and invoice.lines[0].rate == D("100")
    table = {(p.account, p.debit, p.credit) for p in invoice.debit_credit()}
    assert table == {
        ("Accounts Receivable", D("226.50"), D("0")),
        ("Sales", D("0"), D("200.00")),
        ("Freight Income", D("0"), D("10.00")),
        ("Sales Tax Payable", D("0"), D("16.50")),
    }
    assert invoice.is_balanced()
    # Monthly COGS: 2 shipped x 42.50 cost, in September 2022.
    assert [(c.period, c.amount) for c in result.cogs] == [("2022-09", D("85.00"))]


def test_tax_inclusive_prices_are_split_into_net_and_tax() -> None:
    # 9.99 incl 8.25% -> 9.23 net; 3 x 4.99 = 14.97 -> 13.83 net; QuickBooks tax on 23.06 = 1.90.
    result = run("so_tax_inclusive")
    invoice = main_entry(result)
    assert amounts(invoice) == [("product", D("9.23")), ("product", D("13.83"))]
    assert invoice.header.computed_tax == D("1.90")
    assert invoice.total == D("24.96")
    assert result.status is DocumentStatus.READY


def test_tax_inclusive_in_tax_line_mode_posts_the_embedded_tax() -> None:
    result = run("so_tax_inclusive", settings_with(tax={"mode": "tax_line"}))
    invoice = main_entry(result)
    # 24.96 x 8.25 / 108.25 = 1.902 -> 1.90 as an explicit line; no QuickBooks-computed tax.
    assert amounts(invoice) == [
        ("product", D("9.23")),
        ("product", D("13.83")),
        ("tax", D("1.90")),
    ]
    assert invoice.header.computed_tax == D("0")
    assert invoice.lines[-1].account == "Sales Tax Payable" and invoice.lines[-1].override_account
    assert invoice.total == D("24.96")


def test_tax_exempt_invoice_has_only_non_taxable_lines() -> None:
    result = run("so_tax_exempt")
    invoice = main_entry(result)
    assert amounts(invoice) == [("product", D("62.50")), ("freight", D("7.50"))]
    assert {line.tax_code for line in invoice.lines} == {"Non"}
    assert invoice.header.computed_tax == D("0")
    assert invoice.total == D("70.00")


def test_line_and_header_discounts() -> None:
    # Line 1: 4 x 25.00 less 10.00 = 90.00; line 2: 2 x 15.00 = 30.00; header discount 20.00;
    # taxable 100.00 at 5% = 5.00; total 105.00.
    result = run("so_discounts")
    invoice = main_entry(result)
    assert amounts(invoice) == [
        ("product", D("90.00")),
        ("product", D("30.00")),
        ("discount", D("-20.00")),
    ]
    assert invoice.lines[0].rate is None  # 4 x 25 is not 90: the rate would mislead
    assert "less discount 10.00" in invoice.lines[0].description
    assert invoice.lines[1].rate == D("15")
    assert invoice.header.computed_tax == D("5.00")
    assert invoice.total == D("105.00")
    assert result.status is DocumentStatus.READY


def test_discounts_in_account_mode_group_lines_by_income_account() -> None:
    result = run("so_discounts", settings_with(sales={"line_mode": "account"}))
    invoice = main_entry(result)
    assert amounts(invoice) == [("product", D("120.00")), ("discount", D("-20.00"))]
    assert invoice.lines[0].account == "Sales" and invoice.lines[0].override_account
    assert invoice.lines[0].item is not None and invoice.lines[0].item.name == "Cin7 Sales"
    assert invoice.lines[1].account == "Discounts Given" and invoice.lines[1].override_account
    assert invoice.total == D("105.00")


def test_many_lines_rounding_line_makes_total_equal_cin7() -> None:
    # 12 lines of 3 x 0.333 = 0.999 -> 1.00 each = 12.00; Cin7 total 11.99 -> rounding -0.01.
    result = run("so_many_lines_rounding")
    invoice = main_entry(result)
    assert len([line for line in invoice.lines if line.role is LineRole.PRODUCT]) == 12
    rounding = [line for line in invoice.lines if line.role is LineRole.ROUNDING]
    assert len(rounding) == 1 and rounding[0].amount == D("-0.01")
    assert rounding[0].account == "Rounding" and rounding[0].override_account
    assert invoice.total == D("11.99")
    assert result.status is DocumentStatus.READY


def test_partial_dispatch_bills_ordered_and_costs_dispatched() -> None:
    result = run("so_partial_dispatch")
    invoice = main_entry(result)
    assert amounts(invoice) == [("product", D("50.00"))]
    assert [(c.amount) for c in result.cogs] == [D("21.00")]  # 7 shipped x 3.00
    finding = next(f for f in invoice.findings if f.code == "dispatch_differs")
    assert not finding.blocking
    assert "10 ordered but 7 dispatched" in finding.message
    assert finding.field == "lineItems[0].qtyShipped"
    assert result.status is DocumentStatus.READY


def test_voided_order_is_never_posted() -> None:
    result = run("so_void")
    assert result.status is DocumentStatus.VOID
    assert result.entries == []
    assert codes(result) == {"voided"}


def test_order_without_invoice_date_is_not_ready() -> None:
    result = run("so_not_invoiced")
    assert result.status is DocumentStatus.NOT_READY
    assert result.entries == []
    (finding,) = result.findings
    assert finding.code == "no_invoice_date" and finding.blocking
    assert "SO-2307" in finding.message and finding.field == "invoiceDate"


def test_non_usd_is_held_without_multi_currency() -> None:
    result = run("so_foreign_currency")
    assert result.status is DocumentStatus.HELD
    finding = next(f for f in result.all_findings() if f.code == "foreign_currency")
    assert "NZD" in finding.message and finding.field == "currencyCode"


def test_non_usd_with_multi_currency_sends_exchange_rate() -> None:
    result = run("so_foreign_currency", settings_with(multi_currency=True))
    assert result.status is DocumentStatus.READY
    customer, invoice = result.entries
    assert invoice.currency == "NZD"
    assert invoice.header.exchange_rate == D("0.625")  # 1 / 1.6 NZD per USD
    assert customer.header.contact is not None and customer.header.contact.currency == "NZD"


def test_contact_name_over_41_characters_holds_the_invoice() -> None:
    result = run("so_long_name")
    assert result.status is DocumentStatus.HELD
    customer, invoice = result.entries
    assert customer.held and invoice.held
    finding = next(f for f in invoice.findings if f.code == "name_too_long")
    assert "41" in finding.message and finding.field == "company"


def test_zero_cogs_is_reported_and_posts_no_cogs() -> None:
    result = run("so_zero_cogs")
    assert result.cogs == []
    assert "zero_cogs" in codes(result)
    assert result.status is DocumentStatus.READY


def test_tax_that_does_not_match_the_rate_holds_in_sales_tax_item_mode() -> None:
    result = run("so_tax_mismatch")  # 100.00 at 8.25% is 8.25, but Cin7's total implies 10.00
    assert result.status is DocumentStatus.HELD
    finding = next(f for f in result.all_findings() if f.code == "tax_mismatch")
    assert finding.blocking and "10.00" in finding.message and "8.25" in finding.message


def test_tax_mismatch_in_tax_line_mode_posts_cin7_tax() -> None:
    result = run("so_tax_mismatch", settings_with(tax={"mode": "tax_line"}))
    invoice = main_entry(result)
    assert amounts(invoice) == [("product", D("100.00")), ("tax", D("10.00"))]
    assert invoice.total == D("110.00")
    assert result.status is DocumentStatus.READY


def test_lines_that_do_not_add_up_to_product_total_hold() -> None:
    result = run("so_lines_do_not_add_up")
    assert result.status is DocumentStatus.HELD
    assert {"lines_do_not_add_up", "totals_do_not_reconcile"} <= codes(result)


def test_invoice_date_is_the_tenant_local_date() -> None:
    # 02:30 UTC on 1 October is still 30 September in New York, but 1 October in Auckland.
    ny = main_entry(run("so_late_evening"))
    nz = main_entry(run("so_late_evening", settings_with(time_zone="Pacific/Auckland")))
    assert ny.txn_date == date(2022, 9, 30)
    assert nz.txn_date == date(2022, 10, 1)


def test_periodic_method_posts_no_cogs() -> None:
    result = run("so_tax_exclusive", settings_with(inventory_method="periodic"))
    assert result.cogs == []
    assert [e.kind for e in result.entries] == [EntryKind.CUSTOMER_ADD, EntryKind.INVOICE]


def test_per_document_cogs_journal() -> None:
    result = run("so_tax_exclusive", settings_with(cogs={"granularity": "per_document"}))
    journal = result.entries[-1]
    assert journal.kind is EntryKind.JOURNAL and journal.subkind is JournalSubkind.COGS
    assert [(line.account, line.side, line.amount) for line in journal.lines] == [
        ("Cost of Goods Sold", Side.DEBIT, D("85.00")),
        ("Inventory Asset", Side.CREDIT, D("85.00")),
    ]
    assert journal.ref_number == "CG2221" and journal.is_balanced()
    assert result.cogs == []


def test_bill_with_freight_dated_in_tenant_zone() -> None:
    result = run("po_bill")
    vendor, bill = result.entries
    assert vendor.kind is EntryKind.VENDOR_ADD and bill.kind is EntryKind.BILL
    assert [(line.account, line.amount) for line in bill.lines] == [
        ("Inventory Asset", D("125.00")),
        ("Inventory Asset", D("29.00")),
        ("Freight In", D("15.00")),
    ]
    assert bill.total == D("169.00")
    assert bill.ref_number == "INV-88812"
    assert bill.txn_date == date(2026, 2, 28)  # 03:30 UTC on 1 March is 22:30 on 28 Feb in NY
    table = {(p.account, p.debit, p.credit) for p in bill.debit_credit()}
    assert ("Accounts Payable", D("0"), D("169.00")) in table
    assert bill.is_balanced()


def test_bill_periodic_method_debits_purchases() -> None:
    bill = main_entry(run("po_bill", settings_with(inventory_method="periodic")))
    assert [line.account for line in bill.lines] == ["Purchases", "Purchases", "Freight In"]


def test_bill_item_mode_uses_item_lines_overriding_the_asset_account() -> None:
    bill = main_entry(run("po_bill", settings_with(purchases={"line_mode": "item"})))
    products = [line for line in bill.lines if line.role is LineRole.PRODUCT]
    assert all(line.item is not None and line.override_account for line in products)
    assert [(line.qty, line.rate) for line in products] == [
        (D("10"), D("12.5")),
        (D("4"), D("7.25")),
    ]


def test_purchase_order_without_supplier_invoice_reference_is_not_ready() -> None:
    result = run("po_no_supplier_ref")
    assert result.status is DocumentStatus.NOT_READY
    assert codes(result) == {"no_supplier_invoice_reference"}


def test_negative_purchase_order_becomes_vendor_credit() -> None:
    result = run("po_supplier_credit")
    credit = main_entry(result)
    assert credit.kind is EntryKind.VENDOR_CREDIT
    assert [(line.account, line.amount) for line in credit.lines] == [
        ("Inventory Asset", D("25.00"))
    ]
    assert credit.total == D("25.00") and credit.ref_number == "CR-3301"
    table = {(p.account, p.debit, p.credit) for p in credit.debit_credit()}
    assert table == {
        ("Accounts Payable", D("25.00"), D("0")),
        ("Inventory Asset", D("0"), D("25.00")),
    }


def test_credit_note_with_negative_quantities() -> None:
    # |-1| x 24.00 + |-2| x 5.00 = 34.00; tax 8.25% = 2.805 -> 2.81; Cin7 total -36.81.
    result = run("cn_credit_memo")
    memo = main_entry(result)
    assert memo.kind is EntryKind.CREDIT_MEMO
    assert amounts(memo) == [("product", D("24.00")), ("product", D("10.00"))]
    assert [line.qty for line in memo.lines] == [D("1"), D("2")]
    assert memo.header.computed_tax == D("2.81")
    assert memo.total == D("36.81")
    assert memo.ref_number == "CRN-2223"
    # Restocked cost comes back out of COGS: 1 x 10.00 + 2 x 2.00.
    assert [(c.period, c.amount) for c in result.cogs] == [("2022-09", D("-14.00"))]
    table = {(p.account, p.debit, p.credit) for p in memo.debit_credit()}
    assert ("Accounts Receivable", D("0"), D("36.81")) in table
    assert ("Sales Tax Payable", D("2.81"), D("0")) in table


def test_stock_adjustment_journal() -> None:
    # +5 x 4.00 = 20.00 to the default account; -1 x 7.50 = -7.50 on unmapped code 5010
    # (also default): net +12.50.
    result = run("adj_stock_adjustment")
    (journal,) = result.entries
    assert journal.subkind is JournalSubkind.STOCK_ADJUSTMENT
    assert [(line.account, line.side, line.amount) for line in journal.lines] == [
        ("Inventory Asset", Side.DEBIT, D("12.50")),
        ("Inventory Adjustments", Side.CREDIT, D("12.50")),
    ]
    assert journal.txn_date == date(2026, 4, 30) and journal.ref_number == "ADJ-610"
    assert "unmapped_account" in codes(result)
    assert result.status is DocumentStatus.READY


def test_stock_adjustment_with_mapped_account_code() -> None:
    settings = settings_with(accounts={"account_map": {"5010": "Shrinkage"}})
    (journal,) = run("adj_stock_adjustment", settings).entries
    rows = {(line.account, line.side, line.amount) for line in journal.lines}
    assert rows == {
        ("Inventory Asset", Side.DEBIT, D("20.00")),
        ("Inventory Adjustments", Side.CREDIT, D("20.00")),
        ("Inventory Asset", Side.CREDIT, D("7.50")),
        ("Shrinkage", Side.DEBIT, D("7.50")),
    }
    assert journal.is_balanced()


def test_inventory_value_reconciliation() -> None:
    # 100 x 42.50 + 40 x 156.25 = 10,500.00 against 10,000.00 in QuickBooks.
    result = run("inventory_value", kind="inventory_value")
    (journal,) = result.entries
    assert journal.subkind is JournalSubkind.INVENTORY_VALUE
    assert [(line.account, line.side, line.amount) for line in journal.lines] == [
        ("Inventory Asset", Side.DEBIT, D("500.00")),
        ("Inventory Adjustments", Side.CREDIT, D("500.00")),
    ]
    assert journal.ref_number == "IV202604"
    periodic = run("inventory_value", settings_with(inventory_method="periodic"), "inventory_value")
    assert periodic.entries[0].lines[1].account == "Cost of Goods Sold"


def test_taxable_freight_and_surcharge_with_class_from_branch() -> None:
    # 3 x 19.99 = 59.97; freight 8.00 taxed in this state; card fee 3.00 not taxed;
    # tax 6% of 67.97 = 4.0782 -> 4.08; total 75.05.
    settings = settings_with(
        tax={"freight_taxable": True}, classes={"branch_class_map": {"5": "Retail:East"}}
    )
    result = run("so_freight_surcharge_taxable", settings)
    invoice = main_entry(result)
    assert [(line.role.value, line.amount, line.tax_code) for line in invoice.lines] == [
        ("product", D("59.97"), "Tax"),
        ("freight", D("8.00"), "Tax"),
        ("surcharge", D("3.00"), "Non"),
    ]
    assert invoice.lines[0].description == "CANDLE Soy candle (Lavender)"
    assert invoice.lines[2].description == "Card fee"
    assert invoice.header.computed_tax == D("4.08") and invoice.total == D("75.05")
    assert invoice.header.class_name == "Retail:East"
    assert result.status is DocumentStatus.READY
    # With freight untaxed (the default) Cin7's 4.08 is not 6% of 59.97 (3.60): held.
    held = run("so_freight_surcharge_taxable")
    assert held.status is DocumentStatus.HELD
    assert "tax_mismatch" in codes(held)


def test_tax_rounded_per_line_by_cin7_is_absorbed_by_the_rounding_line() -> None:
    # Six lines of 1 x 0.10 at 5%: per line 0.005 -> 0.01 each = 0.06 tax in Cin7's total,
    # but 5% of 0.60 is 0.03 (QuickBooks' figure). Total 0.66 is matched with a 0.03 rounding.
    doc = load_doc("so_tax_exclusive")
    doc["lineItems"] = [
        {
            **doc["lineItems"][0],
            "id": i,
            "code": f"C{i}",
            "qty": 1.0,
            "unitPrice": 0.10,
            "qtyShipped": 1.0,
        }
        for i in range(6)
    ]
    doc.update({"taxRate": 5.0, "productTotal": 0.60, "freightTotal": 0.0, "total": 0.66})
    result = map_document(None, doc, TenantSettings())
    invoice = main_entry(result)
    assert result.status is DocumentStatus.READY, result.all_findings()
    assert invoice.header.computed_tax == D("0.03")
    assert [line.amount for line in invoice.lines if line.role is LineRole.ROUNDING] == [D("0.03")]
    assert invoice.total == D("0.66")
