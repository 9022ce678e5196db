"""The reconciliation's qbXML: valid against Intuit's XSD, answered faithfully by the
QuickBooks simulator (transaction queries and a TrialBalance per month end), read back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from omni2qbd_gateway.qbxml_io import parse_response
from omni2qbd_gateway.reconciliation_queries import (
    MonthError,
    ReconciliationAccounts,
    months_between,
    read_answers,
    reconciliation_set,
)
from omni2qbd_shared.qbxml.schema import schema_for
from omni2qbd_shared.xmlsafe import parse_xml
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.quickbooks.company_file import CompanyFile
from tests.xml_errors import schema_errors

ACCOUNTS = ReconciliationAccounts("Inventory Asset", "Cost of Goods Sold")


def _valid(xml: str, version: str) -> etree._Element:
    root = parse_xml(xml)
    schema = schema_for(version)
    assert schema.validate(root.getroottree()), schema_errors(schema)
    return root


def _post(company: CompanyFile, *requests: str) -> None:
    xml = (
        '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML>'
        f'<QBXMLMsgsRq onError="stopOnError">{"".join(requests)}</QBXMLMsgsRq></QBXML>'
    )
    answer = company.process_request(xml)
    assert 'statusSeverity="Error"' not in answer, answer


def _journal(ref: str, day: str, debit: str, credit: str, amount: str) -> str:
    return (
        f"<JournalEntryAddRq><JournalEntryAdd><TxnDate>{day}</TxnDate><RefNumber>{ref}</RefNumber>"
        f"<JournalDebitLine><AccountRef><FullName>{debit}</FullName></AccountRef>"
        f"<Amount>{amount}</Amount></JournalDebitLine>"
        f"<JournalCreditLine><AccountRef><FullName>{credit}</FullName></AccountRef>"
        f"<Amount>{amount}</Amount></JournalCreditLine></JournalEntryAdd></JournalEntryAddRq>"
    )


def _bill(ref: str, day: str, amount: str) -> str:
    return (
        "<BillAddRq><BillAdd><VendorRef><FullName>Widget Supply Co</FullName></VendorRef>"
        f"<TxnDate>{day}</TxnDate><RefNumber>{ref}</RefNumber>"
        "<ExpenseLineAdd><AccountRef><FullName>Inventory Asset</FullName></AccountRef>"
        f"<Amount>{amount}</Amount></ExpenseLineAdd></BillAdd></BillAddRq>"
    )


def _invoice(ref: str, day: str, qty: int, pending: bool = False) -> str:
    return (
        "<InvoiceAddRq><InvoiceAdd><CustomerRef><FullName>Acme Corp</FullName></CustomerRef>"
        f"<TxnDate>{day}</TxnDate><RefNumber>{ref}</RefNumber>"
        f"<IsPending>{'true' if pending else 'false'}</IsPending>"
        "<InvoiceLineAdd><ItemRef><FullName>Consulting</FullName></ItemRef>"
        f"<Quantity>{qty}</Quantity></InvoiceLineAdd></InvoiceAdd></InvoiceAddRq>"
    )


@pytest.mark.parametrize("version", ["13.0", "16.0"])
def test_the_request_set_is_valid_against_the_xsd(version: str) -> None:
    root = _valid(reconciliation_set(version, "2026-01", "2026-03", ACCOUNTS), version)
    msgs = root.find("QBXMLMsgsRq")
    assert msgs is not None
    tags = [str(rq.tag) for rq in msgs]
    assert tags.count("GeneralSummaryReportQueryRq") == 3  # one trial balance per month end
    assert {"InvoiceQueryRq", "CreditMemoQueryRq", "BillQueryRq", "VendorCreditQueryRq"} <= set(
        tags
    )


def test_month_ranges_are_checked() -> None:
    assert months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    with pytest.raises(MonthError, match="YYYY-MM"):
        months_between("2026-13", "2026-14")
    with pytest.raises(MonthError, match="YYYY-MM"):
        months_between("9999-12", "9999-12")
    with pytest.raises(MonthError, match="ends before"):
        months_between("2026-05", "2026-04")


def test_the_simulator_answers_every_query_faithfully_and_the_answers_are_read() -> None:
    qb = QuickBooksSimulator()
    company = qb.company("Books", seed_demo=True)
    _post(
        company,
        _bill("B-1", "2026-10-05", "500.00"),
        _journal("COGS202610", "2026-10-31", "Cost of Goods Sold", "Inventory Asset", "120.00"),
        _invoice("INV-1", "2026-10-07", 2),
        _invoice("INV-2", "2026-11-02", 1, pending=True),
        # Typed by hand in QuickBooks in November: moves inventory outside the bridge.
        _journal("HAND1", "2026-11-15", "Inventory Asset", "Inventory Adjustments", "33.10"),
    )
    answer = company.process_request(reconciliation_set("13.0", "2026-10", "2026-11", ACCOUNTS))
    _valid(answer, "13.0")
    figures = read_answers(parse_response(answer, max_bytes=10**7), ACCOUNTS)

    assert figures["problems"] == []
    # Inventory Asset at each month end: 500 - 120, then + 33.10.
    assert figures["inventory_balances"] == {"2026-10": "380.00", "2026-11": "413.10"}
    by_ref = {t["ref_number"]: t for t in figures["transactions"]}
    assert Decimal(by_ref["INV-1"]["amount"]) == Decimal("300.00")
    assert by_ref["INV-2"]["is_pending"] is True
    assert Decimal(by_ref["B-1"]["amount"]) == Decimal("500.00")
    assert Decimal(by_ref["B-1"]["inventory_amount"]) == Decimal("500.00")
    assert Decimal(by_ref["INV-1"]["inventory_amount"]) == Decimal("0.00")
    assert Decimal(by_ref["COGS202610"]["amount"]) == Decimal("120.00")
    assert Decimal(by_ref["COGS202610"]["inventory_amount"]) == Decimal("-120.00")
    assert Decimal(by_ref["HAND1"]["amount"]) == Decimal("0.00")
    assert Decimal(by_ref["HAND1"]["inventory_amount"]) == Decimal("33.10")


def test_other_reports_are_refused_like_any_unsupported_request() -> None:
    qb = QuickBooksSimulator()
    company = qb.company("Books", seed_demo=True)
    xml = (
        '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
        '<GeneralSummaryReportQueryRq requestID="1"><GeneralSummaryReportType>'
        "ProfitAndLossStandard</GeneralSummaryReportType></GeneralSummaryReportQueryRq>"
        "</QBXMLMsgsRq></QBXML>"
    )
    answer = company.process_request(xml)
    _valid(answer, "13.0")
    assert 'statusCode="1030"' in answer
