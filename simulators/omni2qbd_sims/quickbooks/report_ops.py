"""Report queries: ``GeneralSummaryReportQueryRq`` of type ``TrialBalance``.

The simulator keeps a general ledger implicitly: every live, posting transaction is turned
into debit/credit postings the way QuickBooks books it (pending invoices and credit memos
are non-posting and left out, reference §3.8):

- Invoice: Dr Accounts Receivable (total), Cr each line's item income account, Cr
  "Sales Tax Payable" for the tax; a credit memo the reverse.
- Bill: Dr each expense line's account (item lines: the item's account), Cr Accounts
  Payable; a vendor credit the reverse.
- Journal entry: its lines as they are.

Payments are not booked (they move cash against AR/AP only, which no report here asks
about). The report lists every account with a balance as of ``ToReportDate`` (default:
today), one ``DataRow`` each with a Debit or Credit column, and a ``TotalRow``; a
``ReportAccountFilter`` keeps only the named accounts. Other report types answer status
1030 like any request type the simulator does not implement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal

from lxml import etree

from omni2qbd_sims.quickbooks.company import CompanyState
from omni2qbd_sims.quickbooks.handlers import HandlerResult, RequestContext
from omni2qbd_sims.quickbooks.model import Txn
from omni2qbd_sims.quickbooks.qbtext import child_text, fmt_amount, sub
from omni2qbd_sims.quickbooks.statuses import RequestFailed
from omni2qbd_sims.quickbooks.txn_ops import SPECS, line_amount, totals

ZERO = Decimal("0.00")
SALES_TAX_ACCOUNT = "Sales Tax Payable"
Posting = tuple[str, Decimal]  # (account ListID or name, debit-positive amount)


def _account_of_ref(company: CompanyState, ref: etree._Element | None) -> str | None:
    if ref is None:
        return None
    list_id = ref.findtext("ListID")
    if list_id and list_id in company.lists:
        return company.full_name(company.lists[list_id])
    return ref.findtext("FullName")


def _item_account(company: CompanyState, line: etree._Element) -> str | None:
    item_id = line.findtext("ItemRef/ListID")
    item = company.lists.get(item_id) if item_id else None
    if item is None or item.account_id is None or item.account_id not in company.lists:
        return None
    return company.full_name(company.lists[item.account_id])


def _line_account(company: CompanyState, line: etree._Element) -> str | None:
    return _account_of_ref(company, line.find("AccountRef")) or _item_account(company, line)


def postings(company: CompanyState, txn: Txn) -> Iterator[Posting]:
    """The debit (+) and credit (-) amounts one transaction books, by account full name."""
    body = txn.body
    if txn.txn_type == "JournalEntry":
        yield from _journal_postings(company, body)
        return
    spec = SPECS[txn.txn_type]
    if spec.sales and child_text(body, "IsPending") == "true":
        return  # pending sales are non-posting
    # +1: the head account (AR, AP) is debited and the lines credited; -1 the reverse.
    sign = Decimal(1) if txn.txn_type in ("Invoice", "VendorCredit") else Decimal(-1)
    figures = totals(company, txn)
    head = _account_of_ref(company, body.find(spec.account_tag or "")) or spec.default_account
    if head is not None:
        yield head, sign * figures.total
    for line in body:
        if str(line.tag) not in spec.line_map.values():
            continue
        account = _line_account(company, line)
        if account is not None:
            amount = line_amount(line)
            yield account, -sign * amount
    if spec.sales and figures.sales_tax_total:
        yield SALES_TAX_ACCOUNT, -sign * figures.sales_tax_total


def _journal_postings(company: CompanyState, body: etree._Element) -> Iterator[Posting]:
    for line in body:
        account = _account_of_ref(company, line.find("AccountRef"))
        if account is None:
            continue
        if line.tag == "JournalDebitLine":
            yield account, line_amount(line)
        elif line.tag == "JournalCreditLine":
            yield account, -line_amount(line)


def balances(company: CompanyState, as_of: date) -> dict[str, Decimal]:
    """Debit-positive balance of every account touched on or before ``as_of``."""
    result: dict[str, Decimal] = {}
    for txn in company.txns.values():
        if txn.deleted:
            continue
        txn_date = date.fromisoformat(txn.body.findtext("TxnDate") or "1900-01-01")
        if txn_date > as_of:
            continue
        for account, amount in postings(company, txn):
            result[account] = result.get(account, ZERO) + amount
    return result


def _col_desc(ret: etree._Element, col_id: int, title: str, col_type: str, data_type: str) -> None:
    desc = sub(ret, "ColDesc")
    desc.set("colID", str(col_id))
    desc.set("dataType", data_type)
    heading = sub(desc, "ColTitle")
    heading.set("titleRow", "1")
    if title:
        heading.set("value", title)
    sub(desc, "ColType", col_type)


def _cell(row: etree._Element, col_id: int, value: str, data_type: str) -> None:
    cell = sub(row, "ColData")
    cell.set("colID", str(col_id))
    cell.set("value", value)
    cell.set("dataType", data_type)


def _wanted_accounts(ctx: RequestContext, rq: etree._Element) -> set[str] | None:
    accounts = rq.find("ReportAccountFilter")
    if accounts is None:
        return None
    wanted = {(e.text or "").strip().casefold() for e in accounts.findall("FullName")}
    for element in accounts.findall("ListID"):
        record = ctx.company.lists.get((element.text or "").strip())
        if record is not None:
            wanted.add(ctx.company.full_name(record).casefold())
    return wanted


def trial_balance(ctx: RequestContext, rq: etree._Element) -> HandlerResult:
    company = ctx.company
    to_text = rq.findtext("ReportPeriod/ToReportDate")
    as_of = date.fromisoformat(to_text.strip()) if to_text else company.now().date()
    wanted = _wanted_accounts(ctx, rq)
    figures = {
        account: amount
        for account, amount in sorted(balances(company, as_of).items())
        if amount != ZERO and (wanted is None or account.casefold() in wanted)
    }
    ret = etree.Element("ReportRet")
    sub(ret, "ReportTitle", "Trial Balance")
    sub(ret, "ReportSubtitle", f"As of {as_of.strftime('%B')} {as_of.day}, {as_of.year}")
    sub(ret, "ReportBasis", child_text(rq, "ReportBasis") or "Accrual")
    sub(ret, "NumRows", str(len(figures) + 1))
    sub(ret, "NumColumns", "3")
    sub(ret, "NumColTitleRows", "1")
    _col_desc(ret, 1, "", "Label", "STRTYPE")
    _col_desc(ret, 2, "Debit", "Debit", "AMTTYPE")
    _col_desc(ret, 3, "Credit", "Credit", "AMTTYPE")
    data = sub(ret, "ReportData")
    debit_total = credit_total = ZERO
    for number, (account, amount) in enumerate(figures.items(), start=1):
        row = sub(data, "DataRow")
        row.set("rowNumber", str(number))
        label = sub(row, "RowData")
        label.set("rowType", "account")
        label.set("value", account)
        _cell(row, 1, account, "STRTYPE")
        if amount > 0:
            _cell(row, 2, fmt_amount(amount), "AMTTYPE")
            debit_total += amount
        else:
            _cell(row, 3, fmt_amount(-amount), "AMTTYPE")
            credit_total -= amount
    total = sub(data, "TotalRow")
    total.set("rowNumber", str(len(figures) + 1))
    _cell(total, 1, "TOTAL", "STRTYPE")
    _cell(total, 2, fmt_amount(debit_total), "AMTTYPE")
    _cell(total, 3, fmt_amount(credit_total), "AMTTYPE")
    return HandlerResult([ret])


def general_summary_report(ctx: RequestContext, rq: etree._Element) -> HandlerResult:
    report_type = child_text(rq, "GeneralSummaryReportType") or ""
    if report_type != "TrialBalance":
        raise RequestFailed(
            1030, f"{report_type} reports are not supported by this implementation."
        )
    return trial_balance(ctx, rq)


REPORT_HANDLERS: dict[str, Callable[[RequestContext, etree._Element], HandlerResult]] = {
    "GeneralSummaryReportQueryRq": general_summary_report,
}
