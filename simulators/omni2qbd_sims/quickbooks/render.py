"""Ret aggregates (InvoiceRet, CustomerRet, ...) built from the company's records.

Each Ret is assembled from what the simulator knows and then put into the order (and
pruned to the children) that the XSD of the request's qbXML version declares.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal

from lxml import etree

from omni2qbd_sims.quickbooks.company import CompanyState
from omni2qbd_sims.quickbooks.indexes import CUSTOMER, VENDOR
from omni2qbd_sims.quickbooks.model import ListRecord, Txn
from omni2qbd_sims.quickbooks.qbtext import (
    find1,
    findtext1,
    fmt_amount,
    fmt_date,
    fmt_datetime,
    fmt_rate,
    ref,
    sub,
)
from omni2qbd_sims.quickbooks.txn_ops import LINE_TAGS, ZERO, totals
from omni2qbd_sims.quickbooks.xsd_order import sort_children


def _bool(value: bool) -> str:
    return "true" if value else "false"


def txn_ret(
    company: CompanyState,
    txn: Txn,
    version: str,
    *,
    include_lines: bool = True,
    include_links: bool = True,
    names_current: bool = False,
) -> etree._Element:
    """``names_current``: every ref in the body was written in this request (a new
    transaction), so it already shows the current names and needs no refresh."""
    ret = _header_and_body(txn, include_lines)
    if not names_current:
        company.refresh_refs(ret)
    for tag in ("BillAddress", "ShipAddress"):
        address = find1(ret, tag)
        if address is not None:
            ret.append(address_block(address, f"{tag}Block"))
    t = totals(company, txn)
    percentage = fmt_rate(t.sales_tax_percentage) if t.sales_tax_percentage else "0.00"
    if txn.txn_type == "Invoice":
        sub(ret, "Subtotal", fmt_amount(t.subtotal))
        sub(ret, "SalesTaxPercentage", percentage)
        sub(ret, "SalesTaxTotal", fmt_amount(t.sales_tax_total))
        sub(ret, "AppliedAmount", fmt_amount(-t.applied))
        sub(ret, "BalanceRemaining", fmt_amount(t.balance))
        sub(ret, "IsPaid", _bool(t.is_paid))
    elif txn.txn_type == "CreditMemo":
        sub(ret, "Subtotal", fmt_amount(t.subtotal))
        sub(ret, "SalesTaxPercentage", percentage)
        sub(ret, "SalesTaxTotal", fmt_amount(t.sales_tax_total))
        sub(ret, "TotalAmount", fmt_amount(t.total))
        sub(ret, "CreditRemaining", fmt_amount(t.balance))
    elif txn.txn_type == "Bill":
        sub(ret, "AmountDue", fmt_amount(t.total))
        sub(ret, "IsPaid", _bool(t.is_paid))
        sub(ret, "OpenAmount", fmt_amount(t.balance))
    elif txn.txn_type == "VendorCredit":
        sub(ret, "CreditAmount", fmt_amount(t.total))
        sub(ret, "OpenAmount", fmt_amount(t.balance))
    if include_links:
        for link in txn.links:
            linked = sub(ret, "LinkedTxn")
            sub(linked, "TxnID", link.txn_id)
            sub(linked, "TxnType", link.txn_type)
            sub(linked, "TxnDate", fmt_date(link.txn_date))
            if link.ref_number:
                sub(linked, "RefNumber", link.ref_number)
            sub(linked, "LinkType", "AMTTYPE")
            sub(linked, "Amount", fmt_amount(-link.amount))
    sort_children(ret, version)
    return ret


def _header_and_body(txn: Txn, include_lines: bool) -> etree._Element:
    """The Ret's header fields, then a copy of the transaction's body (one deep copy of the
    whole body rather than one per child: the same elements in the same order)."""
    if include_lines:
        ret = copy.deepcopy(txn.body)
        ret.tag = f"{txn.txn_type}Ret"
        ret.attrib.clear()
        ret.text = ret.tail = None
        at = 0
    else:
        ret = etree.Element(f"{txn.txn_type}Ret")
        at = -1
    for tag, text in (
        ("TxnID", txn.txn_id),
        ("TimeCreated", fmt_datetime(txn.time_created)),
        ("TimeModified", fmt_datetime(txn.time_modified)),
        ("EditSequence", txn.edit_sequence),
        ("TxnNumber", str(txn.txn_number)),
    ):
        if at < 0:
            sub(ret, tag, text)
        else:
            field = etree.Element(tag)
            field.text = text
            ret.insert(at, field)
            at += 1
    if not include_lines:
        for child in txn.body:
            if str(child.tag) not in LINE_TAGS:
                ret.append(copy.deepcopy(child))
    return ret


def address_block(address: etree._Element, tag: str) -> etree._Element:
    """The printable block QuickBooks derives from an address: street lines, then
    "City, State PostalCode", then the country (at most five lines)."""
    lines = [findtext1(address, f"Addr{n}") for n in range(1, 6)]
    text_lines = [line for line in lines if line]
    city = findtext1(address, "City") or ""
    state_zip = " ".join(
        x for x in (findtext1(address, "State"), findtext1(address, "PostalCode")) if x
    )
    city_line = ", ".join(x for x in (city, state_zip) if x)
    if city_line:
        text_lines.append(city_line)
    country = findtext1(address, "Country")
    if country:
        text_lines.append(country)
    block = etree.Element(tag)
    for number, line in enumerate(text_lines[:5], start=1):
        sub(block, f"Addr{number}", line)
    return block


def list_ret(company: CompanyState, record: ListRecord, version: str) -> etree._Element:
    ret = etree.Element(f"{record.kind}Ret")
    sub(ret, "ListID", record.list_id)
    sub(ret, "TimeCreated", fmt_datetime(record.time_created))
    sub(ret, "TimeModified", fmt_datetime(record.time_modified))
    sub(ret, "EditSequence", record.edit_sequence)
    sub(ret, "Name", record.name)
    sub(ret, "FullName", company.full_name(record))
    sub(ret, "IsActive", _bool(record.is_active))
    if record.parent_id is not None:
        parent = company.lists[record.parent_id]
        ref(ret, "ParentRef", parent.list_id, company.full_name(parent))
    sub(ret, "Sublevel", str(company.sublevel(record)))
    if record.extra is not None:
        for child in record.extra:
            if ret.find(str(child.tag)) is None:
                ret.append(copy.deepcopy(child))
    _kind_fields(company, record, ret)
    if record.external_guid:
        sub(ret, "ExternalGUID", record.external_guid)
    company.refresh_refs(ret)
    sort_children(ret, version)
    return ret


def _list_ref(company: CompanyState, parent: etree._Element, tag: str, list_id: str | None) -> None:
    if list_id and list_id in company.lists:
        target = company.lists[list_id]
        ref(parent, tag, target.list_id, company.full_name(target))


def _kind_fields(company: CompanyState, record: ListRecord, ret: etree._Element) -> None:
    fill = _KIND_FIELDS.get(record.kind)
    if fill is not None:
        fill(company, record, ret)


def _account_fields(company: CompanyState, record: ListRecord, ret: etree._Element) -> None:
    sub(ret, "AccountType", record.account_type or "Expense")
    if record.account_number:
        sub(ret, "AccountNumber", record.account_number)
    sub(ret, "Balance", "0.00")
    sub(ret, "TotalBalance", "0.00")


def _sales_or_purchase_item_fields(
    company: CompanyState, record: ListRecord, ret: etree._Element
) -> None:
    _list_ref(company, ret, "SalesTaxCodeRef", record.sales_tax_code_id)
    sales = sub(ret, "SalesOrPurchase")
    sub(sales, "Desc", record.name)
    if record.price is not None:
        sub(sales, "Price", fmt_rate(record.price))
    _list_ref(company, sales, "AccountRef", record.account_id)


def _inventory_item_fields(company: CompanyState, record: ListRecord, ret: etree._Element) -> None:
    _list_ref(company, ret, "SalesTaxCodeRef", record.sales_tax_code_id)
    if record.price is not None:
        sub(ret, "SalesPrice", fmt_rate(record.price))
    _list_ref(company, ret, "IncomeAccountRef", record.account_id)
    if record.cost is not None:
        sub(ret, "PurchaseCost", fmt_rate(record.cost))


def _discount_item_fields(company: CompanyState, record: ListRecord, ret: etree._Element) -> None:
    sub(ret, "ItemDesc", record.name)
    _list_ref(company, ret, "SalesTaxCodeRef", record.sales_tax_code_id)
    if record.price is not None:
        sub(ret, "DiscountRate", fmt_rate(record.price))
    _list_ref(company, ret, "AccountRef", record.account_id)


def _tax_item_fields(company: CompanyState, record: ListRecord, ret: etree._Element) -> None:
    sub(ret, "ItemDesc", record.name)
    sub(ret, "TaxRate", fmt_rate(record.tax_rate or ZERO))


def _tax_code_fields(company: CompanyState, record: ListRecord, ret: etree._Element) -> None:
    sub(ret, "IsTaxable", _bool(bool(record.is_taxable)))
    sub(ret, "Desc", "Taxable Sales" if record.is_taxable else "Non-Taxable Sales")


def _terms_fields(company: CompanyState, record: ListRecord, ret: etree._Element) -> None:
    sub(ret, "StdDueDays", str(record.due_days or 0))


def _customer_fields(company: CompanyState, record: ListRecord, ret: etree._Element) -> None:
    balance = _customer_balance(company, record)
    sub(ret, "Balance", fmt_amount(balance))
    sub(ret, "TotalBalance", fmt_amount(balance))
    _list_ref(company, ret, "SalesTaxCodeRef", record.sales_tax_code_id)
    _list_ref(company, ret, "ItemSalesTaxRef", record.item_sales_tax_id)


def _vendor_fields(company: CompanyState, record: ListRecord, ret: etree._Element) -> None:
    sub(ret, "Balance", fmt_amount(_vendor_balance(company, record)))


# The fields each kind of list record carries beyond the ones every kind has.
_KIND_FIELDS: dict[str, Callable[[CompanyState, ListRecord, etree._Element], None]] = {
    "Account": _account_fields,
    "ItemService": _sales_or_purchase_item_fields,
    "ItemNonInventory": _sales_or_purchase_item_fields,
    "ItemOtherCharge": _sales_or_purchase_item_fields,
    "ItemInventory": _inventory_item_fields,
    "ItemDiscount": _discount_item_fields,
    "ItemSalesTax": _tax_item_fields,
    "SalesTaxCode": _tax_code_fields,
    "StandardTerms": _terms_fields,
    "Customer": _customer_fields,
    "Vendor": _vendor_fields,
}


def _customer_balance(company: CompanyState, record: ListRecord) -> Decimal:
    balance = ZERO
    for txn in company.txns_by(CUSTOMER, record.list_id):
        if findtext1(txn.body, "IsPending") == "true":
            continue  # pending sales do not affect balances (reference §3.8)
        if txn.txn_type == "Invoice":
            balance += totals(company, txn).balance
        elif txn.txn_type == "CreditMemo":
            balance -= totals(company, txn).balance
    return balance


def _vendor_balance(company: CompanyState, record: ListRecord) -> Decimal:
    balance = ZERO
    for txn in company.txns_by(VENDOR, record.list_id):
        if txn.txn_type == "Bill":
            balance += totals(company, txn).balance
        elif txn.txn_type == "VendorCredit":
            balance -= totals(company, txn).balance
    return balance
