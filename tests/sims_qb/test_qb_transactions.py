"""Transactions: totals like QuickBooks, Mod rules, queries, and a person's actions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TypedDict, Unpack

import pytest

from omni2qbd_sims.quickbooks import CompanyFile
from tests.sims_qb.sims_qb_helpers import invoice_add, message_set, rs_list, status

Send = Callable[..., str]
TAXABLE_AND_NOT = (
    "<InvoiceLineAdd><ItemRef><FullName>Widget</FullName></ItemRef><Quantity>3</Quantity>"
    "</InvoiceLineAdd>"
    "<InvoiceLineAdd><ItemRef><FullName>Consulting</FullName></ItemRef><Quantity>1</Quantity>"
    "</InvoiceLineAdd>"
)


class InvoiceOptions(TypedDict, total=False):
    """The options of ``invoice_add`` these tests vary."""

    customer: str
    lines: str
    txn_date: str
    guid: str


def _post_invoice(send: Send, ref: str = "T1", **kwargs: Unpack[InvoiceOptions]) -> tuple[str, str]:
    (rs,) = rs_list(send(invoice_add(ref, **kwargs)))
    assert status(rs)[0] == 0, status(rs)
    return rs.findtext("InvoiceRet/TxnID") or "", rs.findtext("InvoiceRet/EditSequence") or ""


def test_invoice_totals_with_sales_tax(send: Send, demo: CompanyFile) -> None:
    (rs,) = rs_list(send(invoice_add("T1", lines=TAXABLE_AND_NOT)))
    ret = rs.find("InvoiceRet")
    assert ret is not None
    # Widget 3 x 25.00 taxable ("Tax"), Consulting 150.00 not; Acme's tax item is 8.25%.
    assert ret.findtext("Subtotal") == "225.00"
    assert ret.findtext("ItemSalesTaxRef/FullName") == "State Sales Tax"
    assert ret.findtext("SalesTaxPercentage") == "8.25"
    assert ret.findtext("SalesTaxTotal") == "6.19"  # 75.00 x 8.25% = 6.1875, half-up
    assert ret.findtext("BalanceRemaining") == "231.19"
    assert [
        (x.findtext("Rate"), x.findtext("SalesTaxCodeRef/FullName"))
        for x in ret.findall("InvoiceLineRet")
    ] == [
        ("25.00", "Tax"),
        ("150.00", "Non"),
    ]
    snap = demo.transactions("Invoice")[0]
    assert (snap.subtotal, snap.sales_tax_total, snap.total) == (
        Decimal("225.00"),
        Decimal("6.19"),
        Decimal("231.19"),
    )
    (globex,) = rs_list(send(invoice_add("T2", customer="Globex", lines=TAXABLE_AND_NOT)))
    assert globex.findtext("InvoiceRet/SalesTaxTotal") == "0.00"  # customer is non-taxable


def test_invoice_mod_finalises_and_edits_lines(send: Send, demo: CompanyFile) -> None:
    txn_id, sequence = _post_invoice(send, lines=TAXABLE_AND_NOT)
    lines = demo.transaction(txn_id).lines
    mod = (
        f'<InvoiceModRq requestID="m"><InvoiceMod><TxnID>{txn_id}</TxnID>'
        f"<EditSequence>{sequence}</EditSequence><IsPending>false</IsPending>"
        f"<InvoiceLineMod><TxnLineID>{lines[0].line_id}</TxnLineID><Quantity>4</Quantity>"
        "</InvoiceLineMod>"
        "<InvoiceLineMod><TxnLineID>-1</TxnLineID><ItemRef><FullName>Freight</FullName></ItemRef>"
        "<Amount>12.50</Amount></InvoiceLineMod></InvoiceMod></InvoiceModRq>"
    )
    (rs,) = rs_list(send(mod))
    assert status(rs)[0] == 0
    ret = rs.find("InvoiceRet")
    assert ret is not None and ret.findtext("IsPending") == "false"
    assert ret.findtext("EditSequence") != sequence
    after = demo.transaction(txn_id)
    # Consulting was left out of the Mod, so it is gone; Widget now 4 x 25; Freight added.
    assert [(x.item, x.amount) for x in after.lines] == [
        ("Widget", Decimal("100.00")),
        ("Freight", Decimal("12.50")),
    ]
    assert after.lines[0].line_id == lines[0].line_id
    assert after.total == Decimal("120.75")  # 112.50 + 8.25% of 100.00
    assert after.is_pending is False


def test_queries_by_txn_id_ref_number_and_dates(send: Send, demo: CompanyFile) -> None:
    first, _ = _post_invoice(send, "Q-1", txn_date="2024-05-01")
    _post_invoice(send, "Q-2", txn_date="2024-06-15")
    _post_invoice(send, "Q-3", customer="Globex", txn_date="2024-07-01")

    def refs(query: str) -> list[str]:
        (rs,) = rs_list(send(query))
        return [r.findtext("RefNumber") or "" for r in rs.findall("InvoiceRet")]

    assert refs(f"<InvoiceQueryRq><TxnID>{first}</TxnID></InvoiceQueryRq>") == ["Q-1"]
    assert refs("<InvoiceQueryRq><RefNumber>q-2</RefNumber></InvoiceQueryRq>") == ["Q-2"]
    assert refs(
        "<InvoiceQueryRq><TxnDateRangeFilter><FromTxnDate>2024-06-01</FromTxnDate>"
        "<ToTxnDate>2024-06-30</ToTxnDate></TxnDateRangeFilter></InvoiceQueryRq>"
    ) == ["Q-2"]
    assert refs(
        "<InvoiceQueryRq><EntityFilter><FullName>Globex</FullName></EntityFilter></InvoiceQueryRq>"
    ) == ["Q-3"]
    assert refs(
        "<InvoiceQueryRq><RefNumberFilter><MatchCriterion>StartsWith</MatchCriterion>"
        "<RefNumber>Q-</RefNumber></RefNumberFilter></InvoiceQueryRq>"
    ) == ["Q-1", "Q-2", "Q-3"]
    (plain,) = rs_list(send("<InvoiceQueryRq><RefNumber>Q-1</RefNumber></InvoiceQueryRq>"))
    assert plain.find("InvoiceRet/InvoiceLineRet") is None  # IncludeLineItems defaults false
    (trimmed,) = rs_list(
        send(
            "<InvoiceQueryRq><RefNumber>Q-1</RefNumber><IncludeRetElement>TxnID</IncludeRetElement>"
            "<IncludeRetElement>RefNumber</IncludeRetElement></InvoiceQueryRq>"
        )
    )
    ret = trimmed.find("InvoiceRet")
    assert ret is not None and [c.tag for c in ret] == ["TxnID", "RefNumber"]


def test_bill_vendor_credit_credit_memo_and_journal(send: Send, demo: CompanyFile) -> None:
    bill = (
        '<BillAddRq requestID="b"><BillAdd><VendorRef><FullName>Widget Supply Co</FullName>'
        "</VendorRef><TxnDate>2024-06-02</TxnDate><RefNumber>SUP-778</RefNumber>"
        "<ExpenseLineAdd><AccountRef><FullName>Freight and Delivery</FullName></AccountRef>"
        "<Amount>15.00</Amount></ExpenseLineAdd>"
        "<ItemLineAdd><ItemRef><FullName>Widget</FullName></ItemRef><Quantity>10</Quantity>"
        "</ItemLineAdd></BillAdd></BillAddRq>"
    )
    credit = (
        '<VendorCreditAddRq requestID="vc"><VendorCreditAdd><VendorRef><FullName>Widget Supply Co'
        "</FullName></VendorRef><RefNumber>SC-1</RefNumber><ExpenseLineAdd><AccountRef>"
        "<FullName>Inventory Asset</FullName></AccountRef><Amount>20.00</Amount>"
        "</ExpenseLineAdd></VendorCreditAdd></VendorCreditAddRq>"
    )
    memo = (
        '<CreditMemoAddRq requestID="cm"><CreditMemoAdd><CustomerRef><FullName>Acme Corp'
        "</FullName></CustomerRef><IsPending>true</IsPending><CreditMemoLineAdd><ItemRef>"
        "<FullName>Widget</FullName></ItemRef><Quantity>1</Quantity></CreditMemoLineAdd>"
        "</CreditMemoAdd></CreditMemoAddRq>"
    )
    journal = (
        '<JournalEntryAddRq requestID="je"><JournalEntryAdd><TxnDate>2024-06-30</TxnDate>'
        "<JournalDebitLine><AccountRef><FullName>Cost of Goods Sold</FullName></AccountRef>"
        "<Amount>55.55</Amount></JournalDebitLine><JournalCreditLine><AccountRef><FullName>"
        "Inventory Asset</FullName></AccountRef><Amount>55.55</Amount></JournalCreditLine>"
        "</JournalEntryAdd></JournalEntryAddRq>"
    )
    rows = rs_list(send(bill, credit, memo, journal))
    assert [status(r)[0] for r in rows] == [0, 0, 0, 0]
    assert rows[0].findtext("BillRet/AmountDue") == "115.00"  # 15.00 + 10 x 10.00 cost
    assert rows[0].findtext("BillRet/APAccountRef/FullName") == "Accounts Payable"
    assert rows[1].findtext("VendorCreditRet/CreditAmount") == "20.00"
    assert rows[2].findtext("CreditMemoRet/TotalAmount") == "27.06"  # 25.00 + 8.25% tax
    assert rows[3].findtext("JournalEntryRet/RefNumber") == "1"  # numbered automatically

    totals = demo.totals_by_type()
    assert {k: (v.count, v.total) for k, v in totals.items()} == {
        "Bill": (1, Decimal("115.00")),
        "VendorCredit": (1, Decimal("20.00")),
        "CreditMemo": (1, Decimal("27.06")),
        "JournalEntry": (1, Decimal("55.55")),
    }

    bill_ret = rows[0].find("BillRet")
    assert bill_ret is not None
    bill_mod = (
        f'<BillModRq requestID="bm"><BillMod><TxnID>{bill_ret.findtext("TxnID")}</TxnID>'
        f"<EditSequence>{bill_ret.findtext('EditSequence')}</EditSequence>"
        "<ClearExpenseLines>true</ClearExpenseLines></BillMod></BillModRq>"
    )
    (mod_rs,) = rs_list(send(bill_mod))
    assert mod_rs.findtext("BillRet/AmountDue") == "100.00"

    je = rows[3].find("JournalEntryRet")
    assert je is not None
    debit_id = je.findtext("JournalDebitLine/TxnLineID")
    je_mod = (
        f'<JournalEntryModRq requestID="jm"><JournalEntryMod><TxnID>{je.findtext("TxnID")}</TxnID>'
        f"<EditSequence>{je.findtext('EditSequence')}</EditSequence>"
        f"<JournalLineMod><TxnLineID>{debit_id}</TxnLineID><JournalLineType>Debit</JournalLineType>"
        "<Amount>60.00</Amount></JournalLineMod></JournalEntryMod></JournalEntryModRq>"
    )
    (je_rs,) = rs_list(send(je_mod))
    # The credit line was not named in the Mod, so it is dropped and the entry no longer
    # balances: refused, and the stored journal is unchanged.
    assert status(je_rs)[0] == 3180
    assert demo.transactions("JournalEntry")[0].total == Decimal("55.55")
    (query,) = rs_list(
        send("<JournalEntryQueryRq><IncludeLineItems>true</IncludeLineItems></JournalEntryQueryRq>")
    )
    assert len(query.findall("JournalEntryRet/JournalCreditLine")) == 1


def test_a_person_in_quickbooks(send: Send, demo: CompanyFile) -> None:
    txn_id, sequence = _post_invoice(
        send, "P-1", lines=TAXABLE_AND_NOT, guid="{0D4C52F1-6A43-4C7B-9E61-3B1D5F2A9C10}"
    )
    final = demo.mark_final(txn_id)
    assert final.is_pending is False and final.edit_sequence != sequence
    with pytest.raises(ValueError, match="not pending"):
        demo.mark_final(txn_id)

    payment = demo.apply_payment(txn_id, "100.00")
    assert payment.txn_type == "ReceivePayment" and payment.total == Decimal("100.00")
    (rs,) = rs_list(
        send(
            f"<InvoiceQueryRq><TxnID>{txn_id}</TxnID>"
            "<IncludeLinkedTxns>true</IncludeLinkedTxns></InvoiceQueryRq>"
        )
    )
    ret = rs.find("InvoiceRet")
    assert ret is not None
    assert ret.findtext("AppliedAmount") == "-100.00"
    assert ret.findtext("BalanceRemaining") == "131.19"
    assert ret.findtext("LinkedTxn/TxnType") == "ReceivePayment"
    assert ret.findtext("LinkedTxn/TxnID") == payment.txn_id
    assert ret.findtext("LinkedTxn/Amount") == "-100.00"

    demo.rename_customer("Acme Corp", "Acme Corporation")
    assert ret.findtext("CustomerRef/FullName") == "Acme Corp"
    (renamed,) = rs_list(send(f"<InvoiceQueryRq><TxnID>{txn_id}</TxnID></InvoiceQueryRq>"))
    assert renamed.findtext("InvoiceRet/CustomerRef/FullName") == "Acme Corporation"
    with pytest.raises(ValueError, match="already in use"):
        demo.rename_customer("Globex", "Widget Supply Co")

    assert [
        s.txn_id for s in demo.find_by_external_guid("{0d4c52f1-6a43-4c7b-9e61-3b1d5f2a9c10}")
    ] == [txn_id]
    demo.delete_transaction(txn_id)
    assert demo.count_by_ref_number("P-1") == 0
    (gone,) = rs_list(send("<InvoiceQueryRq><RefNumber>P-1</RefNumber></InvoiceQueryRq>"))
    assert status(gone)[0] == 1
    (deleted,) = rs_list(
        send("<TxnDeletedQueryRq><TxnDelType>Invoice</TxnDelType></TxnDeletedQueryRq>")
    )
    assert [
        (d.findtext("TxnID"), d.findtext("RefNumber")) for d in deleted.findall("TxnDeletedRet")
    ] == [(txn_id, "P-1")]
    (mod,) = rs_list(
        send(
            f"<InvoiceModRq><InvoiceMod><TxnID>{txn_id}</TxnID><EditSequence>1</EditSequence>"
            "</InvoiceMod></InvoiceModRq>"
        )
    )
    assert status(mod)[0] == 3120


def test_concurrent_sets_never_share_ids(demo: CompanyFile) -> None:
    errors: list[BaseException] = []

    def post(worker: int) -> None:
        try:
            for n in range(10):
                demo.process_request(message_set(invoice_add(f"{worker}-{n}")))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    invoices = demo.transactions("Invoice")
    assert len(invoices) == 40
    assert len({i.txn_id for i in invoices}) == 40
    assert len({i.edit_sequence for i in invoices}) == 40
    assert sorted(i.txn_number for i in invoices) == list(range(1, 41))
