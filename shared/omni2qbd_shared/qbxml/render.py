"""qbXML rendering of entries: Add and Mod requests for every entry kind.

QuickBooks rejects a whole message set when one element is out of schema order (hresult
0x80040400), so every builder below writes children in the exact order of Intuit's XSD
(13.0 and 16.0; the only difference that matters here is 16.0's header ClassRef on bills).
Text is cleaned of characters XML cannot carry and cut to the schema's maximum length;
lxml does the escaping.

What the gateway and ``omni2qbd preview`` call::

    render_add(entry, version) -> etree._Element            # e.g. <InvoiceAddRq>
    render_mod(entry, txn_id, edit_sequence, version) -> etree._Element

Each element gets its requestID and goes into a message set through the one builder,
``omni2qbd_shared.qbxml.message_set`` (``with_request_id``, ``message_set``).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from omni2qbd_shared.entries import (
    Address,
    ContactDetails,
    Entry,
    EntryKind,
    EntryLine,
    LineRole,
    Ref,
    Side,
    money,
)
from omni2qbd_shared.kinds import QB_TYPE
from omni2qbd_shared.qbxml.schema import SUPPORTED_VERSIONS, UnsupportedQbxmlVersion

NEW_LINE_ID = "-1"  # TxnLineID of a line added by a Mod request

# XML 1.0 cannot carry most control characters, even escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_QUANTITY_PLACES = Decimal("0.00001")

# QuickBooks names its currencies in words; CurrencyRef needs that name.
CURRENCY_NAMES = {
    "USD": "US Dollar",
    "CAD": "Canadian Dollar",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "AUD": "Australian Dollar",
    "NZD": "New Zealand Dollar",
    "MXN": "Mexican Peso",
    "JPY": "Japanese Yen",
    "CNY": "Chinese Yuan Renminbi",
}


class RenderError(ValueError):
    """The entry cannot be expressed as a valid request (a bug or a held entry)."""


def _check_version(version: str) -> None:
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedQbxmlVersion(
            f"qbXML version {version!r} is not supported; use one of {SUPPORTED_VERSIONS}"
        )


def clean_text(value: str, limit: int | None = None) -> str:
    text = _XML_INVALID.sub("", value)
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    return text[:limit] if limit is not None else text


def _el(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _text(parent: etree._Element, tag: str, value: str | None, limit: int | None) -> None:
    if value is None:
        return
    text = clean_text(value, limit)
    if text:
        _el(parent, tag, text)


def _amount(value: Decimal) -> str:
    return f"{money(value):.2f}"


def _quantity(value: Decimal) -> str:
    quantized = value.quantize(_QUANTITY_PLACES, rounding=ROUND_HALF_UP).normalize()
    text = format(quantized, "f")
    return "0" if text in ("-0", "") else text


def _bool(parent: etree._Element, tag: str, value: bool | None) -> None:
    if value is not None:
        _el(parent, tag, "true" if value else "false")


def _ref(parent: etree._Element, tag: str, ref: Ref | str | None, limit: int = 209) -> None:
    """A ``*Ref`` aggregate: ListID when known (it survives renames), else FullName."""
    if ref is None:
        return
    if isinstance(ref, str):
        ref = Ref(name=ref)
    if not (ref.list_id or ref.name):
        return
    node = _el(parent, tag)
    if ref.list_id:
        _el(node, "ListID", clean_text(ref.list_id, 36))
    else:
        _el(node, "FullName", clean_text(ref.name or "", limit))


def _address(parent: etree._Element, tag: str, address: Address | None) -> None:
    if address is None or address.is_empty():
        return
    node = _el(parent, tag)
    for number, line in enumerate(address.lines[:5], start=1):
        _text(node, f"Addr{number}", line, 41)
    _text(node, "City", address.city, 31)
    _text(node, "State", address.state, 21)
    _text(node, "PostalCode", address.postal_code, 13)
    _text(node, "Country", address.country, 31)


def _date(parent: etree._Element, tag: str, entry: Entry) -> None:
    if entry.txn_date is not None:
        _el(parent, tag, entry.txn_date.isoformat())


def _exchange_rate(parent: etree._Element, entry: Entry) -> None:
    rate = entry.header.exchange_rate
    if rate is not None:
        _el(parent, "ExchangeRate", format(rate.normalize(), "f"))


def _guid(parent: etree._Element, entry: Entry) -> None:
    if entry.external_guid:
        _el(parent, "ExternalGUID", entry.external_guid)


# -- sales: invoice and credit memo ---------------------------------------------------------


def _sales_line(
    parent: etree._Element, tag: str, line: EntryLine, mod: bool, header_class: str | None
) -> None:
    node = _el(parent, tag)
    if mod:
        _el(node, "TxnLineID", NEW_LINE_ID)
    _ref(node, "ItemRef", line.item, 159)
    _text(node, "Desc", line.description, 4095)
    if line.qty is not None:
        _el(node, "Quantity", _quantity(line.qty))
    if line.rate is not None and line.qty is not None:
        _el(node, "Rate", _quantity(line.rate))
    if line.class_name and line.class_name != header_class:
        _ref(node, "ClassRef", line.class_name, 159)
    _el(node, "Amount", _amount(line.amount))
    _ref(node, "SalesTaxCodeRef", line.tax_code, 3)
    if line.override_account and line.account:
        _ref(node, "OverrideItemAccountRef", line.account, 159)


def _sales_body(body: etree._Element, entry: Entry, mod: bool) -> None:
    header = entry.header
    _ref(body, "CustomerRef", header.party)
    _ref(body, "ClassRef", header.class_name, 159)
    _ref(body, "ARAccountRef", header.ar_ap_account, 159)
    _date(body, "TxnDate", entry)
    _text(body, "RefNumber", entry.ref_number, 11)
    _address(body, "BillAddress", header.bill_address)
    _address(body, "ShipAddress", header.ship_address)
    _bool(body, "IsPending", header.is_pending)
    if entry.kind is EntryKind.INVOICE:
        _text(body, "PONumber", header.po_number, 25)
    _ref(body, "ItemSalesTaxRef", header.sales_tax_item, 31)
    _text(body, "Memo", header.memo, 4095)
    _ref(body, "CustomerSalesTaxCodeRef", header.customer_tax_code, 3)
    _exchange_rate(body, entry)
    if not mod:
        _guid(body, entry)
    if entry.kind is EntryKind.INVOICE:
        line_tag = "InvoiceLineMod" if mod else "InvoiceLineAdd"
    else:
        line_tag = "CreditMemoLineMod" if mod else "CreditMemoLineAdd"
    if entry.kind is EntryKind.CREDIT_MEMO and not entry.lines:
        raise RenderError(f"credit memo {entry.key} has no lines; QuickBooks requires one")
    for line in entry.lines:
        _sales_line(body, line_tag, line, mod, header.class_name)


# -- purchases: bill and vendor credit ----------------------------------------------------------


def _is_item_line(line: EntryLine) -> bool:
    return line.role is LineRole.PRODUCT and line.item is not None


def _expense_line(parent: etree._Element, line: EntryLine, mod: bool) -> None:
    node = _el(parent, "ExpenseLineMod" if mod else "ExpenseLineAdd")
    if mod:
        _el(node, "TxnLineID", NEW_LINE_ID)
    _ref(node, "AccountRef", line.account, 159)
    _el(node, "Amount", _amount(line.amount))
    _text(node, "Memo", line.description, 4095)
    _ref(node, "ClassRef", line.class_name, 159)


def _item_line(parent: etree._Element, line: EntryLine, mod: bool) -> None:
    node = _el(parent, "ItemLineMod" if mod else "ItemLineAdd")
    if mod:
        _el(node, "TxnLineID", NEW_LINE_ID)
    _ref(node, "ItemRef", line.item, 159)
    _text(node, "Desc", line.description, 4095)
    if line.qty is not None:
        _el(node, "Quantity", _quantity(line.qty))
    if line.rate is not None and line.qty is not None:
        _el(node, "Cost", _quantity(line.rate))
    _el(node, "Amount", _amount(line.amount))
    _ref(node, "ClassRef", line.class_name, 159)
    if line.override_account and line.account:
        _ref(node, "OverrideItemAccountRef", line.account, 159)


def _purchase_body(body: etree._Element, entry: Entry, mod: bool, version: str) -> None:
    header = entry.header
    bill = entry.kind is EntryKind.BILL
    _ref(body, "VendorRef", header.party)
    _ref(body, "APAccountRef", header.ar_ap_account, 159)
    _date(body, "TxnDate", entry)
    _text(body, "RefNumber", entry.ref_number, 20)
    if bill and version != "13.0":
        _ref(body, "ClassRef", header.class_name, 159)  # 16.0 added a header class to bills
    _text(body, "Memo", header.memo, 4095)
    _exchange_rate(body, entry)
    if not mod:
        _guid(body, entry)
    expense = [line for line in entry.lines if not _is_item_line(line)]
    items = [line for line in entry.lines if _is_item_line(line)]
    if mod and not expense:
        _el(body, "ClearExpenseLines", "true")
    for line in expense:
        _expense_line(body, line, mod)
    if mod and not items:
        _el(body, "ClearItemLines", "true")
    for line in items:
        _item_line(body, line, mod)


# -- journals -------------------------------------------------------------------------------------


def _journal_line(
    parent: etree._Element, line: EntryLine, mod: bool, header_memo: str = ""
) -> None:
    if line.side is None:
        raise RenderError("a journal line has no debit/credit side")
    if mod:
        node = _el(parent, "JournalLineMod")
        _el(node, "TxnLineID", NEW_LINE_ID)
        _el(node, "JournalLineType", "Debit" if line.side is Side.DEBIT else "Credit")
    else:
        node = _el(parent, "JournalDebitLine" if line.side is Side.DEBIT else "JournalCreditLine")
    _ref(node, "AccountRef", line.account, 159)
    _el(node, "Amount", _amount(line.amount))
    _text(node, "Memo", line.description or header_memo, 4095)
    _ref(node, "EntityRef", line.entity)
    _ref(node, "ClassRef", line.class_name, 159)


def _journal_body(body: etree._Element, entry: Entry, mod: bool) -> None:
    if not entry.lines:
        raise RenderError(f"journal {entry.key} has no lines")
    _date(body, "TxnDate", entry)
    _text(body, "RefNumber", entry.ref_number, 11)
    # No header Memo: US QuickBooks Desktop does not support it on JournalEntryAdd (Intuit's
    # OSR) and JournalEntryMod has none; the text goes on every line instead.
    _bool(body, "IsAdjustment", entry.header.is_adjustment)
    if not mod:
        _guid(body, entry)
    for line in entry.lines:
        if money(line.amount) < 0:
            raise RenderError(f"journal {entry.key} has a negative line amount")
        _journal_line(body, line, mod, entry.header.memo)


# -- customers and vendors ------------------------------------------------------------------------


def _contact_body(body: etree._Element, entry: Entry, mod: bool) -> None:
    contact: ContactDetails | None = entry.header.contact
    if contact is None:
        raise RenderError(f"{entry.kind.value} {entry.key} has no contact details")
    customer = entry.kind is EntryKind.CUSTOMER_ADD
    _text(body, "Name", contact.name, 41)
    _text(body, "CompanyName", contact.company_name, 41)
    _text(body, "FirstName", contact.first_name, 25)
    _text(body, "LastName", contact.last_name, 25)
    _address(body, "BillAddress" if customer else "VendorAddress", contact.bill_address)
    _address(body, "ShipAddress", contact.ship_address)
    _text(body, "Phone", contact.phone, 21)
    _text(body, "Email", contact.email, 1023)
    if customer:
        _ref(body, "SalesTaxCodeRef", contact.sales_tax_code, 3)
    if not mod:
        _guid(body, entry)
    if contact.currency:
        _ref(body, "CurrencyRef", CURRENCY_NAMES.get(contact.currency, contact.currency), 64)


# -- requests -----------------------------------------------------------------------------------


def request_name(entry: Entry, mod: bool = False) -> str:
    """``InvoiceAddRq``, ``BillModRq``, ``CustomerAddRq``, ..."""
    return f"{QB_TYPE[entry.kind]}{'Mod' if mod else 'Add'}Rq"


def _body(body: etree._Element, entry: Entry, mod: bool, version: str) -> None:
    if entry.kind in (EntryKind.INVOICE, EntryKind.CREDIT_MEMO):
        _sales_body(body, entry, mod)
    elif entry.kind in (EntryKind.BILL, EntryKind.VENDOR_CREDIT):
        _purchase_body(body, entry, mod, version)
    elif entry.kind is EntryKind.JOURNAL:
        _journal_body(body, entry, mod)
    else:
        _contact_body(body, entry, mod)


def render_add(entry: Entry, version: str = "13.0") -> etree._Element:
    """The ``<XxxAddRq>`` element for an entry (requestID is set by ``message_set``)."""
    _check_version(version)
    name = QB_TYPE[entry.kind]
    request = etree.Element(f"{name}AddRq")
    _body(_el(request, f"{name}Add"), entry, False, version)
    return request


def render_mod(
    entry: Entry, txn_id: str, edit_sequence: str, version: str = "13.0"
) -> etree._Element:
    """The ``<XxxModRq>`` replacing a posted transaction (or list element) with this entry.

    Every line is sent as new (TxnLineID -1), which replaces the transaction's lines; for
    customers and vendors ``txn_id`` is the ListID.
    """
    _check_version(version)
    if not txn_id or not edit_sequence:
        raise RenderError("a Mod request needs the TxnID/ListID and the EditSequence")
    name = QB_TYPE[entry.kind]
    request = etree.Element(f"{name}ModRq")
    body = _el(request, f"{name}Mod")
    list_element = entry.kind in (EntryKind.CUSTOMER_ADD, EntryKind.VENDOR_ADD)
    _el(body, "ListID" if list_element else "TxnID", clean_text(txn_id, 36))
    _el(body, "EditSequence", clean_text(edit_sequence, 16))
    _body(body, entry, True, version)
    return request
