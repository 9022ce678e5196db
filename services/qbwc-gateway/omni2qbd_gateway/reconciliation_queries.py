"""What the reconciliation asks QuickBooks, and how its answers are read (issue 10 §7).

The QuickBooks side of a reconciliation is read from QuickBooks itself, never from our own
records: one message set per request, sent by the next Web Connector session.

- Sales and purchases: ``InvoiceQueryRq``, ``CreditMemoQueryRq``, ``BillQueryRq`` and
  ``VendorCreditQueryRq`` for the months' transaction dates (every transaction, whoever
  entered it, so one typed by hand in QuickBooks shows up as a difference).
- COGS: ``JournalEntryQueryRq`` with lines, summing what each journal posts to the COGS
  account.
- Inventory: one ``GeneralSummaryReportQueryRq`` (``TrialBalance``) per month end, filtered
  to the Inventory Asset account: its balance as of that date, including anything posted to
  it outside the bridge.

Answers are reduced to plain JSON (``figures``) stored with the snapshot, so reading a
reconciliation never needs QuickBooks to be online.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from omni2qbd_gateway.qbxml_io import ResponseSet, sub, text_of
from omni2qbd_shared.qbxml.message_set import message_set

REQUEST_PREFIX = "rc-"
TRIAL_BALANCE_PREFIX = "rc-tb-"
MAX_MONTHS = 24
# txn type -> (request tag, amount element(s) summed, sign in its measure)
TXN_QUERIES: dict[str, tuple[str, tuple[str, ...], int]] = {
    "Invoice": ("InvoiceQueryRq", ("Subtotal", "SalesTaxTotal"), 1),
    "CreditMemo": ("CreditMemoQueryRq", ("TotalAmount",), -1),
    "Bill": ("BillQueryRq", ("AmountDue",), 1),
    "VendorCredit": ("VendorCreditQueryRq", ("CreditAmount",), -1),
    "JournalEntry": ("JournalEntryQueryRq", (), 1),
}
# Lines are read where they can post to the Inventory Asset or COGS account.
WITH_LINES = ("Bill", "VendorCredit", "JournalEntry")
MEASURE_OF = {
    "Invoice": "sales",
    "CreditMemo": "sales",
    "Bill": "purchases",
    "VendorCredit": "purchases",
}


class MonthError(ValueError):
    pass


@dataclass(frozen=True)
class ReconciliationAccounts:
    """The QuickBooks accounts read for the COGS and inventory measures (tenant settings)."""

    inventory_asset: str
    cogs: str


def parse_month(value: str) -> date:
    """``YYYY-MM`` -> the first day of that month; a plain error otherwise."""
    try:
        year, month = (int(part) for part in value.split("-"))
        if not 1900 <= year <= 9000:
            raise ValueError(year)
        return date(year, month, 1)
    except ValueError as exc:
        raise MonthError(f"{value!r} is not a month; write it as YYYY-MM, e.g. 2026-11") from exc


def month_end(month: str) -> date:
    first = parse_month(month)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def months_between(from_month: str, to_month: str) -> list[str]:
    """Every month from ``from_month`` to ``to_month`` inclusive (at most ``MAX_MONTHS``)."""
    start, end = parse_month(from_month), parse_month(to_month)
    if end < start:
        raise MonthError(f"the range {from_month}..{to_month} ends before it starts")
    months: list[str] = []
    current = start
    while current <= end:
        months.append(current.strftime("%Y-%m"))
        current = date(current.year + (current.month == 12), current.month % 12 + 1, 1)
        if len(months) > MAX_MONTHS:
            raise MonthError(f"a range covers at most {MAX_MONTHS} months")
    return months


def _txn_query(tag: str, request_id: str, first: date, last: date, lines: bool) -> etree._Element:
    rq = etree.Element(tag)
    rq.set("requestID", request_id)
    dates = sub(rq, "TxnDateRangeFilter")
    sub(dates, "FromTxnDate", first.isoformat())
    sub(dates, "ToTxnDate", last.isoformat())
    if lines:
        sub(rq, "IncludeLineItems", "true")
    return rq


def _trial_balance(month: str, account: str) -> etree._Element:
    rq = etree.Element("GeneralSummaryReportQueryRq")
    rq.set("requestID", f"{TRIAL_BALANCE_PREFIX}{month}")
    sub(rq, "GeneralSummaryReportType", "TrialBalance")
    period = sub(rq, "ReportPeriod")
    sub(period, "FromReportDate", parse_month(month).isoformat())
    sub(period, "ToReportDate", month_end(month).isoformat())
    accounts = sub(rq, "ReportAccountFilter")
    sub(accounts, "FullName", account)
    sub(rq, "ReportBasis", "Accrual")
    return rq


def reconciliation_requests(
    from_month: str, to_month: str, accounts: ReconciliationAccounts
) -> list[etree._Element]:
    months = months_between(from_month, to_month)
    first, last = parse_month(months[0]), month_end(months[-1])
    requests = [
        _txn_query(tag, f"{REQUEST_PREFIX}{txn_type}", first, last, txn_type in WITH_LINES)
        for txn_type, (tag, _, _) in TXN_QUERIES.items()
    ]
    requests += [_trial_balance(month, accounts.inventory_asset) for month in months]
    return requests


def reconciliation_set(
    version: str, from_month: str, to_month: str, accounts: ReconciliationAccounts
) -> str:
    """The message set (validated against the XSD of ``version`` before it leaves)."""
    return message_set(version, reconciliation_requests(from_month, to_month, accounts))


# -- answers ---------------------------------------------------------------------------------


def _amount(text: str | None) -> Decimal:
    if not text:
        return Decimal("0.00")
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        return Decimal("0.00")


def _same_account(ref: etree._Element | None, name: str) -> bool:
    full_name = text_of(ref, "FullName") if ref is not None else None
    return full_name is not None and full_name.strip().casefold() == name.strip().casefold()


# Ret line tag -> the side it posts its account on (+1 debit, -1 credit).
LINE_SIDES = {"JournalDebitLine": 1, "JournalCreditLine": -1, "ExpenseLineRet": 1}


def _account_net(ret: etree._Element, account: str, sign: int = 1) -> Decimal:
    """Debits minus credits the lines of a transaction post to ``account`` (a vendor
    credit's expense lines credit their account: ``sign`` -1)."""
    net = Decimal("0.00")
    for line in ret:
        side = LINE_SIDES.get(str(line.tag))
        if side is not None and _same_account(line.find("AccountRef"), account):
            net += side * sign * _amount(line.findtext("Amount"))
    return net


def _transaction(
    txn_type: str, ret: etree._Element, accounts: ReconciliationAccounts
) -> dict[str, Any]:
    _, fields, sign = TXN_QUERIES[txn_type]
    entity = (
        ret.find("CustomerRef") if txn_type in ("Invoice", "CreditMemo") else ret.find("VendorRef")
    )
    row: dict[str, Any] = {
        "txn_type": txn_type,
        "txn_id": text_of(ret, "TxnID"),
        "ref_number": text_of(ret, "RefNumber"),
        "txn_date": text_of(ret, "TxnDate"),
        "external_guid": text_of(ret, "ExternalGUID"),
        "entity": text_of(entity, "FullName") if entity is not None else None,
        "is_pending": (text_of(ret, "IsPending") or "").lower() == "true",
        "memo": text_of(ret, "Memo"),
    }
    row["inventory_amount"] = str(_account_net(ret, accounts.inventory_asset, sign))
    if txn_type == "JournalEntry":
        row["amount"] = str(_account_net(ret, accounts.cogs))
    else:
        total = sum((_amount(ret.findtext(f)) for f in fields), Decimal("0.00"))
        if txn_type == "CreditMemo" and ret.find("TotalAmount") is None:
            total = _amount(ret.findtext("Subtotal")) + _amount(ret.findtext("SalesTaxTotal"))
        row["amount"] = str(sign * total)
    return row


def _trial_balance_amount(ret: etree._Element, account: str) -> Decimal | None:
    """Debit minus credit of ``account`` in a TrialBalance report; None when not listed."""
    columns: dict[str, str] = {}
    for desc in ret.findall("ColDesc"):
        columns[desc.get("colID", "")] = (desc.findtext("ColType") or "").strip()
    data = ret.find("ReportData")
    if data is None:
        return None
    for row in data:
        if str(row.tag) != "DataRow":
            continue
        label = row.find("RowData")
        name = label.get("value") if label is not None else None
        if name is None or name.strip().casefold() != account.strip().casefold():
            continue
        net = Decimal("0.00")
        for cell in row.findall("ColData"):
            kind = columns.get(cell.get("colID", ""))
            if kind == "Debit":
                net += _amount(cell.get("value"))
            elif kind == "Credit":
                net -= _amount(cell.get("value"))
        return net
    return None


def read_answers(response: ResponseSet, accounts: ReconciliationAccounts) -> dict[str, Any]:
    """The figures of one answered reconciliation set, as JSON (amounts as strings)."""
    transactions: list[dict[str, Any]] = []
    balances: dict[str, str] = {}
    problems: list[str] = []
    for result in response.results:
        request_id = result.request_id or ""
        if not request_id.startswith(REQUEST_PREFIX):
            continue
        # 1 = "no matching objects": an empty month, not a failure.
        if not result.ok and result.status_code != 1:
            problems.append(
                f"{result.tag}: QuickBooks status {result.status_code}: {result.message}"
            )
            continue
        if request_id.startswith(TRIAL_BALANCE_PREFIX):
            month = request_id.removeprefix(TRIAL_BALANCE_PREFIX)
            report = result.ret()
            amount = (
                _trial_balance_amount(report, accounts.inventory_asset)
                if report is not None
                else None
            )
            balances[month] = str(amount if amount is not None else Decimal("0.00"))
            continue
        txn_type = request_id.removeprefix(REQUEST_PREFIX)
        if txn_type not in TXN_QUERIES:
            continue
        transactions += [_transaction(txn_type, ret, accounts) for ret in result.rets]
    return {"transactions": transactions, "inventory_balances": balances, "problems": problems}
