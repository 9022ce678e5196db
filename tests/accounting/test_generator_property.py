"""Issue 12, point 9: across thousands of generated Cin7 documents and several settings
variants, every ready entry renders XSD-valid qbXML that the QuickBooks simulator accepts,
QuickBooks' total equals Cin7's, and each month's COGS in QuickBooks equals the COGS of the
documents whose invoices and credit memos are in QuickBooks."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.preview import preview_request_id
from omni2qbd_mapper.result import CogsContribution
from omni2qbd_mapper.rules.cogs import map_cogs_month
from omni2qbd_shared.entries import Entry, EntryKind, JournalSubkind
from omni2qbd_shared.qb_lists import ListName, QbListElement, QbLists
from omni2qbd_shared.tenant_settings import TenantSettings
from omni2qbd_sims.cin7.dates import DateForm
from omni2qbd_sims.cin7.generator import generate
from omni2qbd_sims.cin7.query import to_wire
from omni2qbd_sims.quickbooks.company_file import CompanyFile
from tests.accounting.helpers import company, mirror, post_entries

KINDS = {"SalesOrders": "sales_order", "CreditNotes": "credit_note", "PurchaseOrders": None}
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "tax_line_account_mode": {"tax": {"mode": "tax_line"}, "sales": {"line_mode": "account"}},
    "taxed_charges_per_document_final": {
        "tax": {"freight_taxable": True, "surcharge_taxable": True},
        "cogs": {"granularity": "per_document"},
        "sales": {"is_pending": False},
        "purchases": {"line_mode": "item"},
    },
}
REVENUE = (EntryKind.INVOICE, EntryKind.CREDIT_MEMO)


def documents(scale: float) -> list[tuple[str, list[tuple[str | None, dict[str, Any]]]]]:
    """(tenant, [(kind, payload as the API returns it)]) per generated Cin7 account."""
    store = generate(seed=12, scale=scale)
    accounts = []
    for account in store.tenants.values():
        docs = [
            (kind, to_wire(dict(record), DateForm.ISO_Z))
            for resource, kind in KINDS.items()
            for record in account.rows(resource)
        ]
        accounts.append((account.username, docs))
    return accounts


def settings_for(variant: dict[str, Any], rates: set[str]) -> TenantSettings:
    data = TenantSettings().model_dump(mode="json")
    for section, values in variant.items():
        data[section] = {**data[section], **values}
    data["tax"]["tax_item_map"] = {rate: {"item": f"Tax {rate}", "rate": rate} for rate in rates}
    return TenantSettings.model_validate(data)


def books_for(settings: TenantSettings) -> tuple[CompanyFile, QbLists]:
    books = company()
    for rate, mapped in settings.tax.tax_item_map.items():
        books.add_sales_tax_item(mapped.item, rate)
    return books, mirror(books)


def learn(lists: QbLists, books: CompanyFile, entry: Entry, ident: str) -> None:
    """What the gateway's mirror learns from a CustomerAdd/VendorAdd it just sent."""
    record = books.lists[ident]
    target: ListName = "customer" if entry.kind is EntryKind.CUSTOMER_ADD else "vendor"
    lists.add(target, [QbListElement(ident, books.full_name(record))])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_ready_entries_post_and_reconcile_across_the_generator(variant: str) -> None:
    checked = ready_documents = 0
    for _tenant, docs in documents(scale=0.35):
        rates = {
            format(Decimal(str(p["taxRate"])).normalize(), "f")
            for _k, p in docs
            if p.get("taxRate")
        }
        settings = settings_for(VARIANTS[variant], rates)
        books, lists = books_for(settings)
        counted: list[CogsContribution] = []
        document_cogs: dict[str, Decimal] = defaultdict(Decimal)
        for kind, payload in docs:
            result = map_document(kind, payload, settings, lists)
            checked += 1
            if not result.importable:
                continue
            ready_documents += 1
            entries = [
                e
                for e in result.entries
                if not (
                    e.is_list_add
                    and lists.find(
                        "customer" if e.kind is EntryKind.CUSTOMER_ADD else "vendor",
                        e.header.contact.name if e.header.contact else "",
                    )
                )
            ]
            answers = post_entries(books, entries)  # XSD-validated before it is sent
            for entry in entries:
                answer = answers[preview_request_id(entry)]
                assert answer.code == "0", (result.document, entry.kind, answer.message)
                if entry.is_list_add:
                    learn(lists, books, entry, answer.ident)
                    continue
                txn = books.transaction(answer.ident)
                assert txn.total == entry.total, (result.document, entry.kind)
                if entry.kind in (*REVENUE, EntryKind.BILL, EntryKind.VENDOR_CREDIT):
                    cin7 = abs(Decimal(str(payload["total"]))).quantize(Decimal("0.01"))
                    assert txn.total == cin7, (result.document, txn.total, cin7)
                if entry.subkind is JournalSubkind.COGS:
                    # per-document COGS: posted with (and after) its invoice / credit memo
                    assert any(e.kind in REVENUE for e in entries)
                    document_cogs[str(entry.txn_date)[:7]] += signed_cogs(entry, settings)
            # The revenue entry reached QuickBooks: its COGS counts.
            if any(e.kind in REVENUE for e in entries):
                counted += result.cogs
        check_cogs(books, settings, lists, counted, document_cogs)
    assert checked > 1000 and ready_documents > checked // 4, (checked, ready_documents)


def check_cogs(
    books: CompanyFile,
    settings: TenantSettings,
    lists: QbLists,
    counted: list[CogsContribution],
    document_cogs: dict[str, Decimal],
) -> None:
    by_month: dict[str, list[CogsContribution]] = defaultdict(list)
    for contribution in counted:
        by_month[contribution.period].append(contribution)
    for period, contributions in sorted(by_month.items()):
        result = map_cogs_month(period, contributions, settings, lists)
        if result.entries:
            answers = post_entries(books, result.entries)
            assert {a.code for a in answers.values()} == {"0"}
    # What QuickBooks holds on the COGS account, per month, against the documents' COGS.
    in_books: dict[str, Decimal] = defaultdict(Decimal)
    for txn in books.transactions("JournalEntry"):
        for line in txn.lines:
            if line.account == settings.accounts.cogs:
                sign = 1 if line.kind == "debit" else -1
                in_books[str(txn.txn_date)[:7]] += sign * line.amount
    expected: dict[str, Decimal] = defaultdict(Decimal, document_cogs)
    for contribution in counted:
        expected[contribution.period] += contribution.amount
    months = {m for m, v in expected.items() if v} | {m for m, v in in_books.items() if v}
    for month in sorted(months):
        assert in_books[month] == expected[month], (month, in_books[month], expected[month])


def signed_cogs(entry: Entry, settings: TenantSettings) -> Decimal:
    return sum(
        (
            line.amount if line.side and line.side.value == "debit" else -line.amount
            for line in entry.lines
            if line.account == settings.accounts.cogs
        ),
        Decimal(0),
    )
