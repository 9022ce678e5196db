"""Adding, modifying and totalling transactions the way QuickBooks does.

Covers Invoice, CreditMemo, Bill, VendorCredit and JournalEntry. Line amounts come from
Quantity x Rate (or the item's price), sales tax from the sales-tax item's percentage on
taxable lines, and balances from the payments linked to the transaction.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from lxml import etree

from omni2qbd_sims.quickbooks import statuses
from omni2qbd_sims.quickbooks.company import CompanyState
from omni2qbd_sims.quickbooks.model import ListRecord, Txn
from omni2qbd_sims.quickbooks.qbtext import (
    find1,
    findtext1,
    findtext2,
    fmt_amount,
    fmt_rate,
    money,
    parse_decimal,
    sub,
)

ZERO = Decimal("0")


@dataclass(frozen=True)
class TxnSpec:
    txn_type: str
    entity_tag: str | None
    account_tag: str | None
    default_account: str | None
    line_map: dict[str, str]  # Add line tag -> Ret line tag
    mod_line_map: dict[str, str]  # Mod line tag -> Ret line tag
    sales: bool
    purchase: bool
    auto_ref: bool


SPECS: dict[str, TxnSpec] = {
    "Invoice": TxnSpec(
        "Invoice",
        "CustomerRef",
        "ARAccountRef",
        "Accounts Receivable",
        {"InvoiceLineAdd": "InvoiceLineRet"},
        {"InvoiceLineMod": "InvoiceLineRet"},
        sales=True,
        purchase=False,
        auto_ref=True,
    ),
    "CreditMemo": TxnSpec(
        "CreditMemo",
        "CustomerRef",
        "ARAccountRef",
        "Accounts Receivable",
        {"CreditMemoLineAdd": "CreditMemoLineRet"},
        {"CreditMemoLineMod": "CreditMemoLineRet"},
        sales=True,
        purchase=False,
        auto_ref=True,
    ),
    "Bill": TxnSpec(
        "Bill",
        "VendorRef",
        "APAccountRef",
        "Accounts Payable",
        {"ExpenseLineAdd": "ExpenseLineRet", "ItemLineAdd": "ItemLineRet"},
        {"ExpenseLineMod": "ExpenseLineRet", "ItemLineMod": "ItemLineRet"},
        sales=False,
        purchase=True,
        auto_ref=False,
    ),
    "VendorCredit": TxnSpec(
        "VendorCredit",
        "VendorRef",
        "APAccountRef",
        "Accounts Payable",
        {"ExpenseLineAdd": "ExpenseLineRet", "ItemLineAdd": "ItemLineRet"},
        {"ExpenseLineMod": "ExpenseLineRet", "ItemLineMod": "ItemLineRet"},
        sales=False,
        purchase=True,
        auto_ref=False,
    ),
    "JournalEntry": TxnSpec(
        "JournalEntry",
        None,
        None,
        None,
        {"JournalDebitLine": "JournalDebitLine", "JournalCreditLine": "JournalCreditLine"},
        {},
        sales=False,
        purchase=False,
        auto_ref=True,
    ),
}

LINE_TAGS = frozenset(tag for spec in SPECS.values() for tag in spec.line_map.values()) | frozenset(
    {"InvoiceLineGroupRet", "CreditMemoLineGroupRet", "ItemGroupLineRet"}
)


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    sales_tax_percentage: Decimal | None
    sales_tax_total: Decimal
    total: Decimal
    applied: Decimal
    balance: Decimal
    item_sales_tax_id: str | None

    @property
    def is_paid(self) -> bool:
        return self.balance <= ZERO and self.total > ZERO


# ---- Add -----------------------------------------------------------------------------


def add_txn(company: CompanyState, txn_type: str, add: etree._Element) -> Txn:
    spec = SPECS[txn_type]
    body = copy.deepcopy(add)
    body.tag = f"{txn_type}Ret"
    body.attrib.clear()
    for element in body.iter():
        if isinstance(element.tag, str):
            element.attrib.clear()
    company.resolve_all_refs(body, txn_type)
    _apply_defaults(company, spec, body)
    for line in list(body):
        ret_tag = spec.line_map.get(str(line.tag))
        if ret_tag is None:
            continue
        line.tag = ret_tag
        _prepare_line(company, spec, line, new_id=company.new_txn_id())
    if txn_type == "JournalEntry":
        check_journal_balance(body)
    lock = company.take_lock(f"{txn_type}Add")
    if lock is not None:
        raise statuses.lock_error(lock, txn_type, findtext1(body, "RefNumber") or "")
    now = company.now()
    txn = Txn(
        txn_type=txn_type,
        txn_id=company.new_txn_id(),
        txn_number=company.new_txn_number(),
        edit_sequence=company.new_edit_sequence(),
        time_created=now,
        time_modified=now,
        body=body,
    )
    if spec.auto_ref and find1(body, "RefNumber") is None:
        sub(body, "RefNumber", company.next_ref_number(txn_type))
    _refuse_negative_sale(company, txn)
    company.store_txn(txn)
    return txn


def _refuse_negative_sale(company: CompanyState, txn: Txn) -> None:
    """QuickBooks refuses an invoice whose total is below zero."""
    if txn.txn_type != "Invoice":
        return
    total = totals(company, txn).total
    if total < ZERO:
        raise statuses.amount_not_positive(txn.txn_type, fmt_amount(total))


def _apply_defaults(company: CompanyState, spec: TxnSpec, body: etree._Element) -> None:
    if find1(body, "TxnDate") is None:
        sub(body, "TxnDate", company.now().date().isoformat())
    if spec.account_tag and spec.default_account and find1(body, spec.account_tag) is None:
        account = company.find_list(("Account",), full_name=spec.default_account)
        if account is not None:
            company.write_ref(sub(body, spec.account_tag), account)
    if spec.sales:
        _apply_sales_defaults(company, spec, body)
    if find1(body, "DueDate") is None and spec.txn_type in ("Invoice", "Bill"):
        sub(body, "DueDate", _due_date(company, body).isoformat())


def _apply_sales_defaults(company: CompanyState, spec: TxnSpec, body: etree._Element) -> None:
    flags = [("IsPending", "false")]
    if spec.txn_type == "Invoice":
        flags.append(("IsFinanceCharge", "false"))
    _add_missing(body, flags)
    # What a real InvoiceRet carries although the request did not send it (captured
    # InvoiceAddRs, reference qbwc/captures): the form template, a ship date (the
    # transaction date), and the print/e-mail flags.
    if find1(body, "TemplateRef") is None:
        company.write_ref(sub(body, "TemplateRef"), company.default_template(spec.txn_type))
    if find1(body, "ShipDate") is None:
        sub(body, "ShipDate", findtext1(body, "TxnDate") or company.now().date().isoformat())
    _add_missing(body, [("IsToBePrinted", "true"), ("IsToBeEmailed", "false")])
    customer = _entity(company, spec, body)
    defaults = (
        ("ItemSalesTaxRef", customer.item_sales_tax_id if customer else None),
        # QuickBooks applies the customer's own sales tax code when the request sends
        # none: a customer coded non-taxable drops the tax of every taxable line.
        ("CustomerSalesTaxCodeRef", customer.sales_tax_code_id if customer else None),
    )
    for tag, list_id in defaults:
        if find1(body, tag) is None and list_id in company.lists:
            company.write_ref(sub(body, tag), company.lists[list_id or ""])


def _add_missing(body: etree._Element, fields: list[tuple[str, str]]) -> None:
    for tag, text in fields:
        if find1(body, tag) is None:
            sub(body, tag, text)


def _due_date(company: CompanyState, body: etree._Element) -> date:
    """The transaction date plus the terms' days, as QuickBooks fills DueDate in."""
    due = date.fromisoformat(findtext1(body, "TxnDate") or company.now().date().isoformat())
    terms_id = findtext2(body, "TermsRef", "ListID")
    if terms_id and company.lists[terms_id].due_days:
        due += timedelta(days=company.lists[terms_id].due_days or 0)
    return due


def _entity(company: CompanyState, spec: TxnSpec, body: etree._Element) -> ListRecord | None:
    if spec.entity_tag is None:
        return None
    list_id = findtext2(body, spec.entity_tag, "ListID")
    return company.lists.get(list_id) if list_id else None


# Lines whose Amount is given outright: no quantity, price or item defaults apply.
_AMOUNT_ONLY_LINES = ("JournalDebitLine", "JournalCreditLine", "ExpenseLineRet")


def _prepare_line(
    company: CompanyState, spec: TxnSpec, line: etree._Element, *, new_id: str | None
) -> None:
    """Give a line its TxnLineID, its computed Amount, and the item's defaults."""
    if new_id is not None:
        _set_line_id(line, new_id)
    item_id = findtext2(line, "ItemRef", "ListID")
    item = company.lists.get(item_id) if item_id else None
    amount = parse_decimal(findtext1(line, "Amount"))
    quantity = parse_decimal(findtext1(line, "Quantity"))
    if str(line.tag) in _AMOUNT_ONLY_LINES:
        _set(line, "Amount", fmt_amount(amount or ZERO))
        return
    price = _line_price(spec, line, item, amount)
    if amount is None:
        units = quantity if quantity is not None else Decimal(1)
        amount = ZERO if price is None else price * units
    _set(line, "Amount", fmt_amount(amount))
    if spec.sales and find1(line, "SalesTaxCodeRef") is None and item is not None:
        code_id = item.sales_tax_code_id
        if code_id and code_id in company.lists:
            company.write_ref(sub(line, "SalesTaxCodeRef"), company.lists[code_id])


def _set_line_id(line: etree._Element, new_id: str) -> None:
    """TxnLineID comes first in a line (the qbXML order)."""
    existing = find1(line, "TxnLineID")
    if existing is None:
        existing = etree.Element("TxnLineID")
        line.insert(0, existing)
    existing.text = new_id


def _line_price(
    spec: TxnSpec, line: etree._Element, item: ListRecord | None, amount: Decimal | None
) -> Decimal | None:
    """The line's Rate (sales) or Cost (purchases); a line that gives neither a price nor an
    amount (nor a percentage) takes the item's, written into the line."""
    price_tag = "Cost" if spec.purchase else "Rate"
    price = parse_decimal(findtext1(line, price_tag))
    if price is not None or amount is not None or item is None:
        return price
    if find1(line, "RatePercent") is not None:
        return price
    price = item.cost if spec.purchase else item.price
    if price is not None:
        _set(line, price_tag, fmt_rate(price))
    return price


def _set(element: etree._Element, tag: str, text: str) -> None:
    found = find1(element, tag)
    if found is None:
        found = sub(element, tag)
    found.text = text


def check_journal_balance(body: etree._Element) -> None:
    debits = sum(
        (
            parse_decimal(findtext1(line, "Amount")) or ZERO
            for line in body.iter("JournalDebitLine")
        ),
        ZERO,
    )
    credits = sum(
        (
            parse_decimal(findtext1(line, "Amount")) or ZERO
            for line in body.iter("JournalCreditLine")
        ),
        ZERO,
    )
    for line in list(body.iter("JournalDebitLine")) + list(body.iter("JournalCreditLine")):
        if find1(line, "AccountRef") is None:
            raise statuses.RequestFailed(
                statuses.SAVE_ERROR,
                "There was an error when saving a Journal Entry. QuickBooks error message: "
                "An account is required on every line of a journal entry.",
            )
    if money(debits) != money(credits):
        raise statuses.journal_not_in_balance(fmt_amount(debits), fmt_amount(credits))


# ---- Mod -----------------------------------------------------------------------------


def mod_txn(company: CompanyState, txn_type: str, mod: etree._Element) -> Txn:
    spec = SPECS[txn_type]
    txn = _mod_target(company, txn_type, mod)
    changes = copy.deepcopy(mod)
    for element in changes.iter():
        if isinstance(element.tag, str):
            element.attrib.clear()
    company.resolve_all_refs(changes, txn_type)
    body = copy.deepcopy(txn.body)
    line_mods, clear_groups = _apply_header_changes(spec, changes, body)
    for group in clear_groups:
        for old in body.findall(group):
            body.remove(old)
    for ret_tag, mods in line_mods.items():
        _apply_line_mods(company, spec, body, ret_tag, mods)
    _check_modded(company, txn, body)
    lock = company.take_lock(f"{txn_type}Mod")
    if lock is not None:
        raise statuses.lock_error(lock, txn_type, findtext1(body, "RefNumber") or txn.txn_id)
    txn.body = body
    company.reindex_txn(txn)
    company.touch_txn(txn)
    return txn


def _mod_target(company: CompanyState, txn_type: str, mod: etree._Element) -> Txn:
    """The live transaction a Mod names, at the EditSequence the Mod was based on."""
    txn_id = (findtext1(mod, "TxnID") or "").strip()
    txn = company.live_txn(txn_id)
    if txn is None or txn.txn_type != txn_type:
        raise statuses.object_not_found(txn_id)
    given_sequence = (findtext1(mod, "EditSequence") or "").strip()
    if given_sequence != txn.edit_sequence:
        raise statuses.stale_edit_sequence(given_sequence)
    return txn


# Mod elements that, set to true, delete every line of one kind.
_CLEAR_LINES = {"ClearExpenseLines": "ExpenseLineRet", "ClearItemLines": "ItemLineRet"}


def _apply_header_changes(
    spec: TxnSpec, changes: etree._Element, body: etree._Element
) -> tuple[dict[str, list[etree._Element]], set[str]]:
    """Replace the header fields a Mod sends; return its line mods (by Ret line tag) and the
    line kinds it clears, for the caller to apply."""
    line_mods: dict[str, list[etree._Element]] = {}
    clear_groups: set[str] = set()
    for change in changes:
        tag = str(change.tag)
        if tag in ("TxnID", "EditSequence"):
            continue
        if tag in _CLEAR_LINES and (change.text or "").strip() == "true":
            clear_groups.add(_CLEAR_LINES[tag])
        elif tag in spec.mod_line_map:
            line_mods.setdefault(spec.mod_line_map[tag], []).append(change)
        elif tag == "JournalLineMod":
            line_mods.setdefault("Journal", []).append(change)
        else:
            for old in body.findall(tag):
                body.remove(old)
            body.append(copy.deepcopy(change))
    return line_mods, clear_groups


def _check_modded(company: CompanyState, txn: Txn, body: etree._Element) -> None:
    """What QuickBooks refuses to save: an unbalanced journal, a total below what is already
    paid or applied, a negative sale."""
    if txn.txn_type == "JournalEntry":
        check_journal_balance(body)
    if txn.links:
        trial = totals(company, dataclasses.replace(txn, body=body))
        if trial.total < trial.applied:
            raise statuses.invalid_value(
                "Amount",
                fmt_amount(trial.total),
                f"The total cannot be less than the {fmt_amount(trial.applied)} already "
                "paid or applied to this transaction.",
            )
    _refuse_negative_sale(company, dataclasses.replace(txn, body=body))


def _apply_line_mods(
    company: CompanyState,
    spec: TxnSpec,
    body: etree._Element,
    ret_tag: str,
    mods: list[etree._Element],
) -> None:
    """Lines named in the Mod are kept (updated); TxnLineID -1 adds a line; existing lines
    of that kind the Mod leaves out are deleted. This is the OSR rule as practised by
    integrators (reference §3.6 and §8.10)."""
    if ret_tag == "Journal":
        existing_tags: tuple[str, ...] = ("JournalDebitLine", "JournalCreditLine")
    else:
        existing_tags = (ret_tag,)
    existing = {
        findtext1(line, "TxnLineID"): line for tag in existing_tags for line in body.findall(tag)
    }
    for line in existing.values():
        body.remove(line)
    for mod in mods:
        line_id = (findtext1(mod, "TxnLineID") or "").strip()
        line, new_id = _line_to_mod(company, existing, line_id, _mod_line_tag(ret_tag, mod))
        _merge_line_changes(line, mod)
        if find1(line, "TxnLineID") is None:
            sub(line, "TxnLineID", line_id)
        _prepare_line(company, spec, line, new_id=new_id)
        body.append(line)


def _mod_line_tag(ret_tag: str, mod: etree._Element) -> str:
    """A JournalLineMod says with JournalLineType whether it is a debit or a credit line."""
    if ret_tag != "Journal":
        return ret_tag
    kind = (findtext1(mod, "JournalLineType") or "Debit").strip()
    return "JournalDebitLine" if kind == "Debit" else "JournalCreditLine"


def _line_to_mod(
    company: CompanyState,
    existing: dict[str | None, etree._Element],
    line_id: str,
    target_tag: str,
) -> tuple[etree._Element, str | None]:
    """A new line for TxnLineID -1 (with the TxnLineID to give it), else a copy of the line."""
    if line_id == "-1":
        return etree.Element(target_tag), company.new_txn_id()
    old = existing.get(line_id)
    if old is None:
        raise statuses.object_not_found(line_id)
    line = copy.deepcopy(old)
    line.tag = target_tag
    return line, None


# Line fields that a Mod changing without an Amount makes QuickBooks compute Amount again.
_AMOUNT_INPUTS = ("Quantity", "Rate", "Cost", "ItemRef")


def _merge_line_changes(line: etree._Element, mod: etree._Element) -> None:
    recompute = False
    for change in mod:
        tag = str(change.tag)
        if tag in ("TxnLineID", "JournalLineType"):
            continue
        if tag in _AMOUNT_INPUTS and find1(mod, "Amount") is None:
            recompute = True
        for old_field in line.findall(tag):
            line.remove(old_field)
        line.append(copy.deepcopy(change))
    if recompute:
        for stale in line.findall("Amount"):
            line.remove(stale)


# ---- totals --------------------------------------------------------------------------


def line_amount(line: etree._Element) -> Decimal:
    return parse_decimal(findtext1(line, "Amount")) or ZERO


def totals(company: CompanyState, txn: Txn) -> Totals:
    spec = SPECS.get(txn.txn_type)
    body = txn.body
    applied = sum((link.amount for link in txn.links), ZERO)
    if spec is None or txn.txn_type == "JournalEntry":
        debits = sum((line_amount(x) for x in body.iter("JournalDebitLine")), ZERO)
        return Totals(debits, None, ZERO, debits, ZERO, ZERO, None)
    lines = [line for line in body if str(line.tag) in LINE_TAGS]
    subtotal = money(sum((line_amount(x) for x in lines), ZERO))
    if not spec.sales:
        return Totals(subtotal, None, ZERO, subtotal, applied, subtotal - applied, None)
    tax_item_id = findtext2(body, "ItemSalesTaxRef", "ListID")
    tax_item = company.lists.get(tax_item_id) if tax_item_id else None
    percentage = tax_item.tax_rate if tax_item is not None else None
    taxable = ZERO
    if percentage is not None and _customer_taxable(company, body):
        taxable = _taxable_amount(company, lines)
    tax = money(taxable * (percentage or ZERO) / Decimal(100))
    total = subtotal + tax
    return Totals(subtotal, percentage, tax, total, applied, total - applied, tax_item_id)


def _customer_taxable(company: CompanyState, body: etree._Element) -> bool:
    """A sale to a customer coded non-taxable carries no tax; no code means taxable."""
    code_id = findtext2(body, "CustomerSalesTaxCodeRef", "ListID")
    if code_id and code_id in company.lists:
        return bool(company.lists[code_id].is_taxable)
    return True


def _taxable_amount(company: CompanyState, lines: list[etree._Element]) -> Decimal:
    """The sum of the lines whose sales tax code is taxable."""
    taxable = ZERO
    for line in lines:
        code_id = findtext2(line, "SalesTaxCodeRef", "ListID")
        if code_id and company.lists.get(code_id) and company.lists[code_id].is_taxable:
            taxable += line_amount(line)
    return taxable
