"""Matching, QuickBooks list checks, RefNumbers, voids and monthly COGS."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.result import DocumentStatus, MappingResult, PostedEntry
from omni2qbd_mapper.rules.cogs import map_cogs_month
from omni2qbd_shared.entries import EntryKind, JournalSubkind, Side
from omni2qbd_shared.qb_lists import QbListElement, QbLists
from omni2qbd_shared.tenant_settings import TenantSettings
from tests.mapper.conftest import load_doc, settings_with

D = Decimal


def codes_of(result: MappingResult) -> set[str]:
    return {f.code for f in result.all_findings()}


def test_customer_found_by_exact_name_is_used_with_its_list_id() -> None:
    lists = QbLists().add("customer", [QbListElement("80000001-1", "example  LTD")])
    result = map_document(None, load_doc("so_tax_exclusive"), TenantSettings(), lists)
    (invoice,) = result.entries
    assert invoice.header.party is not None and invoice.header.party.list_id == "80000001-1"
    assert invoice.depends_on == []
    assert "contact_matched_by_name" in codes_of(result)


def test_customer_found_by_email_and_by_confirmed_match() -> None:
    by_email = QbLists().add(
        "customer", [QbListElement("80000002-1", "Example Limited", email="Buyer@Example.com")]
    )
    result = map_document(None, load_doc("so_tax_exclusive"), TenantSettings(), by_email)
    party = result.entries[0].header.party
    assert party is not None and party.list_id == "80000002-1"
    confirmed = QbLists().add_match("customer", "41", QbListElement("80000003-1", "EXL"))
    result = map_document(None, load_doc("so_tax_exclusive"), TenantSettings(), confirmed)
    party = result.entries[0].header.party
    assert party is not None and party.list_id == "80000003-1"
    assert codes_of(result) & {"contact_matched_by_name", "new_contact"} == set()


def test_settings_contact_map_wins_and_is_checked_against_the_mirror() -> None:
    settings = settings_with(contacts={"customer_map": {"41": "Example Ltd (wholesale)"}})
    result = map_document(None, load_doc("so_tax_exclusive"), settings)
    assert [e.kind for e in result.entries] == [EntryKind.INVOICE]
    party = result.entries[0].header.party
    assert party is not None and party.name == "Example Ltd (wholesale)"
    mirror = QbLists().add("customer", [QbListElement("1", "Somebody Else")])
    held = map_document(None, load_doc("so_tax_exclusive"), settings, mirror)
    assert held.status is DocumentStatus.HELD and "unmatched_contact" in codes_of(held)


def test_unmatched_contact_is_held_when_creating_contacts_is_off() -> None:
    settings = settings_with(contacts={"create_unmatched": False})
    result = map_document(None, load_doc("so_tax_exclusive"), settings)
    assert result.status is DocumentStatus.HELD
    finding = next(f for f in result.all_findings() if f.code == "unmatched_contact")
    assert "Example Ltd" in finding.message and finding.field == "memberId"


def test_new_customer_whose_name_a_vendor_uses_is_held() -> None:
    lists = QbLists().add("vendor", [QbListElement("V1", "Example Ltd")])
    result = map_document(None, load_doc("so_tax_exclusive"), TenantSettings(), lists)
    assert result.status is DocumentStatus.HELD
    finding = next(f for f in result.all_findings() if f.code == "name_in_use")
    assert "vendor" in finding.message


def test_mirror_without_the_configured_accounts_and_items_holds() -> None:
    lists = (
        QbLists()
        .add("account", [QbListElement("A1", "Sales"), QbListElement("A2", "Inventory Asset")])
        .add("item", [QbListElement("I1", "Cin7 Product")])
    )
    result = map_document(
        None, load_doc("so_tax_exclusive"), settings_with(sales={"line_mode": "account"}), lists
    )
    assert result.status is DocumentStatus.HELD
    messages = [
        f.message for f in result.all_findings() if f.code in ("unmapped_account", "unmapped_item")
    ]
    assert any("'Freight Income'" in m for m in messages)
    assert any("'Cin7 Sales'" in m for m in messages)


def test_item_mode_uses_mapped_and_mirrored_items() -> None:
    lists = QbLists().add("item", [QbListElement("I9", "SKU-1"), QbListElement("I2", "Freight")])
    result = map_document(None, load_doc("so_tax_exclusive"), TenantSettings(), lists)
    invoice = result.entries[-1]
    assert invoice.lines[0].item is not None and invoice.lines[0].item.list_id == "I9"
    assert "unmapped_item" not in codes_of(result)
    mapped = settings_with(items={"item_map": {"SKU-1": "Widgets:Blue"}})
    invoice = map_document(None, load_doc("so_tax_exclusive"), mapped).entries[-1]
    assert invoice.lines[0].item is not None and invoice.lines[0].item.name == "Widgets:Blue"


def test_tax_item_rate_from_the_mirror_must_match_cin7() -> None:
    lists = QbLists().add("sales_tax_item", [QbListElement("T1", "Sales Tax", tax_rate=D("7.0"))])
    result = map_document(None, load_doc("so_tax_exclusive"), TenantSettings(), lists)
    assert result.status is DocumentStatus.HELD
    assert "tax_rate_mismatch" in codes_of(result)
    mapped = settings_with(tax={"tax_item_map": {"8.25": {"item": "IL 8.25%", "rate": "8.25"}}})
    lists.add("sales_tax_item", [QbListElement("T2", "IL 8.25%", tax_rate=D("8.25"))])
    result = map_document(None, load_doc("so_tax_exclusive"), mapped, lists)
    assert result.status is DocumentStatus.READY
    tax_item = result.entries[-1].header.sales_tax_item
    assert tax_item is not None and tax_item.list_id == "T2"


def test_ref_number_is_shortened_and_collisions_get_a_suffix() -> None:
    doc = {**load_doc("so_tax_exclusive"), "reference": "SO-2026-000123"}
    invoice = map_document(None, doc, TenantSettings()).entries[-1]
    assert invoice.ref_number == "2026-000123"
    assert "ref_number_shortened" in {f.code for f in invoice.findings}
    taken = QbLists().add_ref_numbers("invoice", {"SO-2221": "sales_order:999"})
    invoice = map_document(None, load_doc("so_tax_exclusive"), TenantSettings(), taken).entries[-1]
    assert invoice.ref_number == "SO-2221-2"
    assert not invoice.held
    mine = QbLists().add_ref_numbers("invoice", {"SO-2221": "sales_order:2221"})
    assert (
        map_document(None, load_doc("so_tax_exclusive"), TenantSettings(), mine)
        .entries[-1]
        .ref_number
        == "SO-2221"
    )


def test_voided_after_posting_as_pending_draft_says_to_void_in_quickbooks() -> None:
    posted = map_document(None, load_doc("so_tax_exclusive"), TenantSettings())
    invoice = posted.entries[-1]
    void = {**load_doc("so_tax_exclusive"), "isVoid": True, "status": "VOID"}
    result = map_document(
        None, void, TenantSettings(), posted=[PostedEntry(entry=invoice, is_draft=True)]
    )
    (reversal,) = result.entries
    assert reversal.subkind is JournalSubkind.REVERSAL and reversal.held
    assert (
        "pending draft" in reversal.findings[0].message
        and "SO-2221" in reversal.findings[0].message
    )


def test_voided_after_posting_a_bill_offers_a_balanced_reversal() -> None:
    posted = map_document(None, load_doc("po_bill"), TenantSettings())
    bill = posted.entries[-1]
    void = {**load_doc("po_bill"), "isVoid": True}
    result = map_document(
        None, void, TenantSettings(), posted=[PostedEntry(entry=bill, is_draft=False)]
    )
    (reversal,) = result.entries
    assert not reversal.held and reversal.is_balanced()
    rows = {(line.account, line.side, line.amount) for line in reversal.lines}
    assert ("Accounts Payable", Side.DEBIT, D("169.00")) in rows
    assert ("Freight In", Side.CREDIT, D("15.00")) in rows
    ap = next(line for line in reversal.lines if line.account == "Accounts Payable")
    assert ap.entity is not None and ap.entity.name == "Acme Supply Co"
    assert reversal.source.cin7_id == "5120:void:bill"


def test_monthly_cogs_journal_and_reopening() -> None:
    settings = TenantSettings()
    so = map_document(None, load_doc("so_tax_exclusive"), settings)
    cn = map_document(None, load_doc("cn_credit_memo"), settings)
    month = map_cogs_month(
        "2022-09", [*so.cogs, *cn.cogs], settings, QbLists.empty(), today=date(2022, 10, 5)
    )
    (journal,) = month.entries
    assert journal.subkind is JournalSubkind.COGS and journal.ref_number == "COGS202209"
    assert [(line.account, line.side, line.amount) for line in journal.lines] == [
        ("Cost of Goods Sold", Side.DEBIT, D("71.00")),  # 85.00 sold - 14.00 returned
        ("Inventory Asset", Side.CREDIT, D("71.00")),
    ]
    assert journal.txn_date == date(2022, 9, 30)
    reopened = map_cogs_month(
        "2022-09",
        so.cogs,
        settings,
        QbLists.empty(),
        posted_total=D("71.00"),
        today=date(2022, 10, 5),
    )
    finding = next(f for f in reopened.entries[0].findings if f.code == "cogs_month_reopened")
    assert "71.00 to 85.00 (+14.00)" in finding.message
    assert reopened.status is DocumentStatus.READY
    closed = map_cogs_month(
        "2022-09",
        so.cogs,
        settings,
        QbLists.empty(),
        posted_total=D("71.00"),
        today=date(2022, 12, 1),
    )
    assert closed.status is DocumentStatus.HELD
    assert "cogs_month_closed" in {f.code for f in closed.entries[0].findings}


def test_draft_and_contact_documents() -> None:
    draft = {**load_doc("so_tax_exclusive"), "status": "DRAFT"}
    assert map_document(None, draft, TenantSettings()).status is DocumentStatus.NOT_READY
    contact = {"id": 41, "type": "Customer", "company": "Example Ltd"}
    assert map_document(None, contact, TenantSettings()).status is DocumentStatus.IGNORED
    assert map_document("product", {"id": 1}, TenantSettings()).status is DocumentStatus.IGNORED


def test_supplier_credit_imported_from_csv_becomes_a_vendor_credit_with_its_tax() -> None:
    # The fetcher's CSV import: no Cin7 id, no memberId, negative quantities, tax in the total.
    payload = {
        "id": None,
        "source": "csv-import",
        "reference": "SCN-12",
        "company": "Acme Supply Co",
        "memberId": None,
        "supplierInvoiceReference": "CR-778",
        "invoiceDate": "2026-03-04T00:00:00Z",
        "currencyCode": "USD",
        "isVoid": False,
        "status": "APPROVED",
        "lineItems": [
            {
                "sort": 1,
                "code": "SKU-1",
                "name": "Widget",
                "qty": -3.0,
                "unitPrice": 12.5,
                "discount": 0.0,
            }
        ],
        "productTotal": -37.5,
        "total": -40.59,
    }
    result = map_document("supplier_credit_note", payload, TenantSettings(), cin7_id="csv-SCN-12")
    vendor, credit = result.entries
    assert vendor.kind is EntryKind.VENDOR_ADD and credit.kind is EntryKind.VENDOR_CREDIT
    assert (
        credit.source.cin7_id == "csv-SCN-12"
        and credit.key == "vendor_credit:supplier_credit_note:csv-SCN-12"
    )
    assert [(line.role.value, line.account, line.amount) for line in credit.lines] == [
        ("product", "Inventory Asset", D("37.50")),
        ("tax", "Inventory Asset", D("3.09")),
    ]
    assert credit.total == D("40.59") and credit.ref_number == "CR-778"
    assert result.status is DocumentStatus.READY


def test_importable_stages_setting() -> None:
    only_dispatched = settings_with(sales={"importable_stages": ["dispatched"]})
    assert (
        map_document(None, load_doc("so_tax_exclusive"), only_dispatched).status
        is DocumentStatus.READY
    )
    processing = map_document(None, load_doc("so_partial_dispatch"), only_dispatched)
    assert processing.status is DocumentStatus.NOT_READY
    (finding,) = processing.findings
    assert finding.code == "stage_not_importable" and "'Processing'" in finding.message
