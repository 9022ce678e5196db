"""Each status-code path, with QuickBooks' wording where the reference has it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omni2qbd_sims.quickbooks import CompanyFile
from tests.sims_qb.sims_qb_helpers import invoice_add, message_set, rs_list, status

Send = Callable[..., str]


def _customer_add(name: str, request_id: str = "c1") -> str:
    return (
        f'<CustomerAddRq requestID="{request_id}"><CustomerAdd><Name>{name}</Name>'
        "</CustomerAdd></CustomerAddRq>"
    )


def test_0_ok_and_request_id_echoed(send: Send) -> None:
    (rs,) = rs_list(send(_customer_add("New Customer", "req-77")))
    assert rs.get("requestID") == "req-77"
    assert status(rs) == (0, "Info", "Status OK")
    assert rs.findtext("CustomerRet/FullName") == "New Customer"


def test_1_no_match_is_info(send: Send) -> None:
    query = (
        '<CustomerQueryRq requestID="q"><NameFilter><MatchCriterion>StartsWith</MatchCriterion>'
        "<Name>Zzz</Name></NameFilter></CustomerQueryRq>"
    )
    (rs,) = rs_list(send(query))
    assert status(rs) == (
        1,
        "Info",
        "A query request did not find a matching object in QuickBooks",
    )
    assert rs.find("CustomerRet") is None


def test_500_when_some_listed_objects_are_missing(send: Send, demo: CompanyFile) -> None:
    acme = demo.require_list(("Customer",), "Acme Corp")
    query = (
        f'<CustomerQueryRq requestID="q"><ListID>{acme.list_id}</ListID>'
        "<ListID>80000999-1234567890</ListID></CustomerQueryRq>"
    )
    (rs,) = rs_list(send(query))
    code, severity, message = status(rs)
    assert (code, severity) == (500, "Warn")
    assert '("80000999-1234567890")' in message
    assert [r.findtext("ListID") for r in rs.findall("CustomerRet")] == [acme.list_id]


@pytest.mark.parametrize("taken", ["Widget Supply Co", "Pat Jones", "acme corp"])
def test_3100_names_are_unique_across_customers_vendors_employees(
    send: Send, demo: CompanyFile, taken: str
) -> None:
    before = len(demo.list_records("Customer"))
    (rs,) = rs_list(send(_customer_add(taken)))
    assert status(rs) == (
        3100,
        "Error",
        f'The name "{taken}" of the list element is already in use.',
    )
    assert rs.find("CustomerRet") is None
    assert len(demo.list_records("Customer")) == before


def test_3100_for_vendor_add_with_a_customer_name(send: Send) -> None:
    vendor = '<VendorAddRq requestID="v"><VendorAdd><Name>Globex</Name></VendorAdd></VendorAddRq>'
    (rs,) = rs_list(send(vendor))
    assert status(rs)[0] == 3100


def test_3120_mod_of_unknown_txn(send: Send) -> None:
    mod = (
        '<InvoiceModRq requestID="m"><InvoiceMod><TxnID>ABC-1234567890</TxnID>'
        "<EditSequence>1</EditSequence><Memo>x</Memo></InvoiceMod></InvoiceModRq>"
    )
    (rs,) = rs_list(send(mod))
    code, severity, message = status(rs)
    assert (code, severity) == (3120, "Error")
    assert message.startswith('Object "ABC-1234567890" specified in the request cannot be found.')


def test_3140_unknown_customer_and_unknown_item(send: Send, demo: CompanyFile) -> None:
    (rs,) = rs_list(send(invoice_add("R1", customer="Joe Smith")))
    assert status(rs) == (
        3140,
        "Error",
        'There is an invalid reference to QuickBooks Customer "Joe Smith" in the Invoice.  '
        "QuickBooks error message: Invalid argument.  "
        "The specified record does not exist in the list.",
    )
    line = "<InvoiceLineAdd><ItemRef><FullName>Nope</FullName></ItemRef></InvoiceLineAdd>"
    (rs,) = rs_list(send(invoice_add("R2", lines=line)))
    assert status(rs)[0] == 3140
    assert status(rs)[2].startswith(
        'There is an invalid reference to QuickBooks Item "Nope" in the Invoice line.'
    )
    assert demo.transactions() == []


def test_3200_stale_edit_sequence_after_a_person_edited(send: Send, demo: CompanyFile) -> None:
    (rs,) = rs_list(send(invoice_add("R3")))
    txn_id = rs.findtext("InvoiceRet/TxnID")
    sequence = rs.findtext("InvoiceRet/EditSequence")
    assert txn_id and sequence
    edited = demo.edit_transaction(txn_id, memo="changed in QuickBooks")
    assert edited.edit_sequence != sequence
    mod = (
        f'<InvoiceModRq requestID="m"><InvoiceMod><TxnID>{txn_id}</TxnID>'
        f"<EditSequence>{sequence}</EditSequence><Memo>from bridge</Memo>"
        "</InvoiceMod></InvoiceModRq>"
    )
    (rs,) = rs_list(send(mod))
    assert status(rs) == (
        3200,
        "Error",
        f'The provided edit sequence "{sequence}" is out-of-date. ',
    )
    assert demo.transaction(txn_id).memo == "changed in QuickBooks"


def test_3210_mod_below_what_was_paid(send: Send, demo: CompanyFile) -> None:
    (rs,) = rs_list(send(invoice_add("R4", pending=False)))
    txn_id = rs.findtext("InvoiceRet/TxnID") or ""
    demo.apply_payment(txn_id, "40.00")
    current = demo.transaction(txn_id)
    line_id = current.lines[0].line_id
    mod = (
        f'<InvoiceModRq requestID="m"><InvoiceMod><TxnID>{txn_id}</TxnID>'
        f"<EditSequence>{current.edit_sequence}</EditSequence>"
        f"<InvoiceLineMod><TxnLineID>{line_id}</TxnLineID><Quantity>1</Quantity></InvoiceLineMod>"
        "</InvoiceMod></InvoiceModRq>"
    )
    (rs,) = rs_list(send(mod))
    assert status(rs)[0:2] == (3210, "Error")
    assert demo.transaction(txn_id).total == current.total


def test_unbalanced_journal_is_refused(send: Send, demo: CompanyFile) -> None:
    journal = (
        '<JournalEntryAddRq requestID="j"><JournalEntryAdd><TxnDate>2024-06-01</TxnDate>'
        "<JournalDebitLine><AccountRef><FullName>Cost of Goods Sold</FullName></AccountRef>"
        "<Amount>100.00</Amount></JournalDebitLine>"
        "<JournalCreditLine><AccountRef><FullName>Inventory Asset</FullName></AccountRef>"
        "<Amount>99.99</Amount></JournalCreditLine></JournalEntryAdd></JournalEntryAddRq>"
    )
    (rs,) = rs_list(send(journal))
    code, severity, message = status(rs)
    assert (code, severity) == (3180, "Error")
    assert "Transaction not in balance" in message
    assert demo.transactions("JournalEntry") == []


@pytest.mark.parametrize("code", [3170, 3175, 3180])
def test_injected_locks_fail_then_clear(send: Send, demo: CompanyFile, code: int) -> None:
    demo.inject_lock(code, count=1)
    (rs,) = rs_list(send(invoice_add("L1")))
    assert status(rs)[0:2] == (code, "Error")
    assert demo.count_by_ref_number("L1") == 0
    (rs,) = rs_list(send(invoice_add("L1")))
    assert status(rs)[0] == 0
    assert demo.count_by_ref_number("L1") == 1


def test_1060_request_id_too_long(send: Send) -> None:
    (rs,) = rs_list(send(_customer_add("Long Id", "x" * 51)))
    assert status(rs)[0:2] == (1060, "Error")


def test_stop_on_error_stops_without_rolling_back(demo: CompanyFile) -> None:
    requests = (
        invoice_add("S1", request_id="a"),
        invoice_add("S2", customer="Nobody", request_id="b"),
        invoice_add("S3", request_id="c"),
    )
    rows = rs_list(demo.process_request(message_set(*requests, on_error="stopOnError")))
    assert [(r.get("requestID"), status(r)[0]) for r in rows] == [("a", 0), ("b", 3140)]
    assert [t.ref_number for t in demo.transactions()] == ["S1"]


def test_continue_on_error_answers_every_request(demo: CompanyFile) -> None:
    requests = (
        invoice_add("C1", request_id="a"),
        invoice_add("C2", customer="Nobody", request_id="b"),
        invoice_add("C3", request_id="c"),
    )
    rows = rs_list(demo.process_request(message_set(*requests, on_error="continueOnError")))
    assert [(r.get("requestID"), status(r)[0]) for r in rows] == [("a", 0), ("b", 3140), ("c", 0)]
    assert sorted(t.ref_number or "" for t in demo.transactions()) == ["C1", "C3"]
