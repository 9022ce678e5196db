"""Issue 12, points 8 and 10: the simulator refuses what US QuickBooks refuses, and answers
the way real captured answers look."""

from __future__ import annotations

from collections.abc import Callable

from omni2qbd_sims.quickbooks import CompanyFile
from tests.sims_qb.sims_qb_helpers import invoice_add, message_set, rs_list, status

Send = Callable[..., str]


def test_an_over_long_field_fails_its_request_alone_with_3070(
    send: Send, demo: CompanyFile
) -> None:
    too_long = (
        '<CustomerAddRq requestID="c1"><CustomerAdd><Name>Short Name</Name>'
        f"<BillAddress><City>{'C' * 40}</City></BillAddress></CustomerAdd></CustomerAddRq>"
    )
    fine = (
        '<CustomerAddRq requestID="c2"><CustomerAdd><Name>Fine</Name></CustomerAdd></CustomerAddRq>'
    )
    first, second = rs_list(send(too_long, fine, on_error="continueOnError"))
    assert status(first) == (
        3070,
        "Error",
        f'The string "{"C" * 40}" in the field "City" is too long.',
    )
    assert status(second)[0] == 0  # the set was not failed for it


def test_the_journal_header_memo_is_refused_as_us_quickbooks_does(send: Send) -> None:
    lines = (
        "<JournalDebitLine><AccountRef><FullName>Cost of Goods Sold</FullName></AccountRef>"
        "<Amount>10.00</Amount></JournalDebitLine>"
        "<JournalCreditLine><AccountRef><FullName>Inventory Asset</FullName></AccountRef>"
        "<Amount>10.00</Amount></JournalCreditLine>"
    )
    with_memo = (
        '<JournalEntryAddRq requestID="j1"><JournalEntryAdd><Memo>COGS</Memo>'
        f"{lines}</JournalEntryAdd></JournalEntryAddRq>"
    )
    (rs,) = rs_list(send(with_memo))
    assert status(rs)[0] == 3250 and "JournalEntryAdd/Memo" in status(rs)[2]
    without = (
        f'<JournalEntryAddRq requestID="j2"><JournalEntryAdd>{lines}</JournalEntryAdd>'
        "</JournalEntryAddRq>"
    )
    (rs,) = rs_list(send(without))
    assert status(rs)[0] == 0


def test_a_negative_invoice_total_is_refused(send: Send, demo: CompanyFile) -> None:
    line = (
        "<InvoiceLineAdd><ItemRef><FullName>Widget</FullName></ItemRef>"
        "<Quantity>-2</Quantity><Rate>25.00</Rate></InvoiceLineAdd>"
    )
    (rs,) = rs_list(send(invoice_add("NEG1", lines=line)))
    code, severity, message = status(rs)
    assert (code, severity) == (3180, "Error")
    assert "Transaction amount must be positive" in message
    assert demo.transactions("Invoice") == []


def test_messages_put_two_spaces_after_each_sentence(send: Send) -> None:
    mod = (
        '<InvoiceModRq requestID="m"><InvoiceMod><TxnID>ABC-1234567890</TxnID>'
        "<EditSequence>1</EditSequence><Memo>x</Memo></InvoiceMod></InvoiceModRq>"
    )
    (rs,) = rs_list(send(mod))
    assert status(rs)[2] == (
        'Object "ABC-1234567890" specified in the request cannot be found.  QuickBooks error '
        "message: Invalid argument.  The specified record does not exist in the list."
    )


def test_3180_names_the_list(send: Send, demo: CompanyFile) -> None:
    demo.inject_lock(3180, request_types=["CustomerAdd"])
    add = (
        '<CustomerAddRq requestID="c"><CustomerAdd><Name>Lockie</Name></CustomerAdd>'
        "</CustomerAddRq>"
    )
    (rs,) = rs_list(send(add))
    assert status(rs)[2].startswith(
        'There was an error when saving a Customer list, element "Lockie".  QuickBooks error '
        "message:"
    )


def test_invoice_ret_carries_template_ship_date_and_print_flags(send: Send) -> None:
    (rs,) = rs_list(send(invoice_add("T1")))
    ret = rs.find("InvoiceRet")
    assert ret is not None
    assert ret.findtext("TemplateRef/FullName") == "Intuit Service Invoice"
    assert ret.findtext("ShipDate") == ret.findtext("TxnDate")
    assert ret.findtext("IsToBePrinted") == "true"


def test_journal_entry_ret_keeps_the_request_line_order(send: Send) -> None:
    def line(side: str, account: str) -> str:
        return (
            f"<Journal{side}Line><AccountRef><FullName>{account}</FullName></AccountRef>"
            f"<Amount>5.00</Amount></Journal{side}Line>"
        )

    body = (
        line("Credit", "Inventory Asset")
        + line("Debit", "Cost of Goods Sold")
        + line("Credit", "Inventory Asset")
        + line("Debit", "Cost of Goods Sold")
    )
    (rs,) = rs_list(
        send(
            f'<JournalEntryAddRq requestID="j"><JournalEntryAdd>{body}</JournalEntryAdd>'
            "</JournalEntryAddRq>"
        )
    )
    ret = rs.find("JournalEntryRet")
    assert ret is not None
    tags = [str(c.tag) for c in ret if str(c.tag).startswith("Journal")]
    assert tags == [
        "JournalCreditLine",
        "JournalDebitLine",
        "JournalCreditLine",
        "JournalDebitLine",
    ]


def test_3200_answer_includes_the_current_ret(send: Send, demo: CompanyFile) -> None:
    (rs,) = rs_list(send(invoice_add("S1")))
    txn_id = rs.findtext("InvoiceRet/TxnID") or ""
    old = rs.findtext("InvoiceRet/EditSequence") or ""
    edited = demo.edit_transaction(txn_id, memo="changed in QuickBooks")
    mod = (
        f'<InvoiceModRq requestID="m"><InvoiceMod><TxnID>{txn_id}</TxnID>'
        f"<EditSequence>{old}</EditSequence><Memo>x</Memo></InvoiceMod></InvoiceModRq>"
    )
    (rs,) = rs_list(send(mod))
    assert status(rs)[0] == 3200
    assert rs.findtext("InvoiceRet/EditSequence") == edited.edit_sequence
    assert rs.findtext("InvoiceRet/Memo") == "changed in QuickBooks"


def test_the_customer_tax_code_applies_when_none_is_sent(send: Send, demo: CompanyFile) -> None:
    # Globex is coded Non in the demo company: its invoice gets no tax on taxable lines.
    (rs,) = rs_list(send(invoice_add("G1", customer="Globex", pending=False)))
    assert rs.findtext("InvoiceRet/CustomerSalesTaxCodeRef/FullName") == "Non"
    assert rs.findtext("InvoiceRet/SalesTaxTotal") == "0.00"


def test_hcp_response_lists_subscribed_services(demo: CompanyFile) -> None:
    assert "<SubscribedServices><Service><Name>" in demo.hcp_response()


_ = message_set  # the helpers module is shared; keep its import list stable


def test_a_write_answered_info_without_ret_as_captured(send: Send, demo: CompanyFile) -> None:
    """For the gateway's in-doubt handling: a real answer had status 3210, Info, no Ret."""
    demo.inject_answer(
        3210,
        "Info",
        'The "AppliedToTxnAdd payment amount" field has an invalid value "129.43".  '
        "QuickBooks error message: You cannot pay more than the amount due.",
        request_types=["InvoiceAddRq"],
    )
    (rs,) = rs_list(send(invoice_add("I1")))
    assert status(rs)[:2] == (3210, "Info") and rs.find("InvoiceRet") is None
    assert [t.ref_number for t in demo.transactions("Invoice")] == ["I1"]  # it was saved
