"""Entries: QuickBooks-shaped accounting documents the mapper prepares and the gateway posts.

An entry is what a bookkeeper reviews before pressing Import: the header (customer or vendor,
date, reference), the lines (account, item, class, tax code, amount), the debit/credit effect
on the books, the Cin7 document and revision it came from, and any findings that hold it.
Amounts are ``Decimal`` with two places, rounded half-up, everywhere.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from omni2qbd_shared.kinds import EntryKind as EntryKind  # re-exported: long-standing import path

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Fixed namespace so ExternalGUIDs are reproducible from an entry's identity: the same entry
# version always carries the same GUID, which is what lets a lost response be recognised later.
EXTERNAL_GUID_NAMESPACE = uuid.UUID("6f1c8f0e-2b7e-4d0a-9a55-0d8f3c1e9b42")


def to_decimal(value: Any) -> Decimal:
    """A Decimal from a JSON number or string; floats go through ``str`` so 0.1 stays 0.1."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a number") from exc


def money(value: Any) -> Decimal:
    """Two decimal places, half-up (the rounding accountants expect; not banker's rounding)."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


Money = Annotated[Decimal, PlainSerializer(lambda v: f"{money(v):.2f}", return_type=str)]
Quantity = Annotated[
    Decimal, PlainSerializer(lambda v: format(v.normalize(), "f"), return_type=str)
]


class JournalSubkind(StrEnum):
    COGS = "cogs"
    STOCK_ADJUSTMENT = "stock_adjustment"
    INVENTORY_VALUE = "inventory_value"
    REVERSAL = "reversal"


class LineRole(StrEnum):
    """Why a line exists; the renderer and the debit/credit view both rely on it."""

    PRODUCT = "product"
    FREIGHT = "freight"
    SURCHARGE = "surcharge"
    DISCOUNT = "discount"
    TAX = "tax"
    ROUNDING = "rounding"
    JOURNAL = "journal"


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class Ref(BaseModel):
    """A reference to a QuickBooks list element: by ListID when known, else by full name."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    list_id: str | None = None

    def label(self) -> str:
        return self.name or self.list_id or "?"


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    lines: list[str] = Field(default_factory=list)
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def is_empty(self) -> bool:
        return not (self.lines or self.city or self.state or self.postal_code or self.country)


class Finding(BaseModel):
    """Something a person should know or fix, in words that name the Cin7 document and field."""

    model_config = ConfigDict(frozen=True)

    code: str
    blocking: bool
    message: str
    document: str = ""
    field: str | None = None


class SourceRef(BaseModel):
    """The Cin7 document (and exact revision) an entry was made from."""

    model_config = ConfigDict(frozen=True)

    kind: str
    cin7_id: str
    revision: str
    reference: str | None = None


class EntryLine(BaseModel):
    role: LineRole = LineRole.PRODUCT
    # The account the line posts to. For item lines it is the account the item (or its override)
    # posts to, as far as the mapper knows; ``override_account`` says whether the request forces it.
    account: str | None = None
    override_account: bool = False
    item: Ref | None = None
    class_name: str | None = Field(default=None, alias="class")
    tax_code: str | None = None
    amount: Money = ZERO
    description: str = ""
    qty: Quantity | None = None
    rate: Quantity | None = None
    side: Side | None = None  # journals only; amounts of journal lines are never negative
    entity: Ref | None = None  # journals: customer/vendor a line concerns
    source_line_id: str | None = None

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ContactDetails(BaseModel):
    """What a CustomerAdd/VendorAdd sends (names are checked against QuickBooks' limits)."""

    name: str
    company_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    terms: str | None = None
    currency: str | None = None
    cin7_member_id: str | None = None
    # Customers: the sales tax code the new customer gets (what Cin7 charged them).
    sales_tax_code: str | None = None


class EntryHeader(BaseModel):
    party: Ref | None = None  # customer for sales, vendor for purchases
    ar_ap_account: str | None = None
    class_name: str | None = Field(default=None, alias="class")
    memo: str = ""
    po_number: str | None = None
    is_pending: bool | None = None
    sales_tax_item: Ref | None = None
    # Tax QuickBooks computes itself from the sales tax item (sales-tax-item mode); tax posted as
    # a line (tax-line mode) is in the lines instead and this stays zero.
    computed_tax: Money = ZERO
    tax_account: str | None = None
    # Invoices and credit memos: the customer's sales tax code for this transaction, sent so
    # a customer coded otherwise in QuickBooks cannot silently drop (or add) Cin7's tax.
    customer_tax_code: str | None = None
    exchange_rate: Decimal | None = None
    due_date: date | None = None
    terms: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    is_adjustment: bool | None = None
    contact: ContactDetails | None = None

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class Posting(BaseModel):
    """One row of the debit/credit table a reviewer sees."""

    account: str
    debit: Money = ZERO
    credit: Money = ZERO
    memo: str = ""


class Entry(BaseModel):
    kind: EntryKind
    subkind: JournalSubkind | None = None
    source: SourceRef
    # Stable identity across revisions: "<entry kind>:<source kind>:<source cin7_id>", e.g.
    # "invoice:sales_order:2221" or "customer_add:contact:41". ``depends_on`` lists such keys.
    key: str
    tenant_id: str = "local"
    header: EntryHeader = Field(default_factory=EntryHeader)
    lines: list[EntryLine] = Field(default_factory=list)
    ref_number: str | None = None
    txn_date: date | None = None
    total: Money = ZERO
    currency: str = "USD"
    external_guid: str = ""
    depends_on: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)

    @property
    def held(self) -> bool:
        return any(f.blocking for f in self.findings)

    @property
    def is_list_add(self) -> bool:
        return self.kind in (EntryKind.CUSTOMER_ADD, EntryKind.VENDOR_ADD)

    def debit_credit(self) -> list[Posting]:
        return debit_credit_view(self)

    def is_balanced(self) -> bool:
        rows = self.debit_credit()
        return sum((r.debit for r in rows), ZERO) == sum((r.credit for r in rows), ZERO)


def external_guid_for(tenant_id: str, key: str, revision: str) -> str:
    """``{XXXXXXXX-...}``: the GUIDTYPE form qbXML's ExternalGUID demands."""
    value = uuid.uuid5(EXTERNAL_GUID_NAMESPACE, f"{tenant_id}\x1f{key}\x1f{revision}")
    return "{" + str(value).upper() + "}"


def request_id_for(entry: Entry) -> str:
    """A short, stable requestID (QuickBooks refuses IDs over 50 characters)."""
    digest = hashlib.sha256(
        f"{entry.tenant_id}\x1f{entry.key}\x1f{entry.source.revision}".encode()
    ).hexdigest()
    return f"{entry.kind.value[:12]}-{digest[:20]}"


def _line_postings(lines: Iterable[EntryLine], normal: Side, fallback: str) -> list[Posting]:
    """Postings for transaction lines whose normal side is ``normal``; negatives flip sides."""
    rows: list[Posting] = []
    for line in lines:
        amount = money(line.amount)
        if amount == ZERO:
            continue
        account = line.account or fallback
        label = line.description or (line.item.label() if line.item else line.role.value)
        side = normal if amount > 0 else (Side.CREDIT if normal is Side.DEBIT else Side.DEBIT)
        value = abs(amount)
        if side is Side.DEBIT:
            rows.append(Posting(account=account, debit=value, memo=label))
        else:
            rows.append(Posting(account=account, credit=value, memo=label))
    return rows


def debit_credit_view(entry: Entry) -> list[Posting]:
    """The entry's effect on the general ledger, the way an accountant reads it."""
    kind = entry.kind
    if kind is EntryKind.JOURNAL:
        return _journal_postings(entry)
    if kind in (EntryKind.CUSTOMER_ADD, EntryKind.VENDOR_ADD):
        return []
    if kind in (EntryKind.INVOICE, EntryKind.CREDIT_MEMO):
        return _customer_postings(entry)
    return _vendor_postings(entry)


def _journal_postings(entry: Entry) -> list[Posting]:
    return [
        Posting(
            account=line.account or "?",
            debit=money(line.amount) if line.side is Side.DEBIT else ZERO,
            credit=money(line.amount) if line.side is Side.CREDIT else ZERO,
            memo=line.description,
        )
        for line in entry.lines
    ]


def _party_label(entry: Entry) -> str:
    party = entry.header.party
    return party.label() if party else "?"


def _computed_tax_lines(entry: Entry) -> list[EntryLine]:
    """QuickBooks adds the sales tax itself, so the ledger shows it as one more line."""
    header = entry.header
    if money(header.computed_tax) == ZERO:
        return []
    return [
        EntryLine(
            role=LineRole.TAX,
            account=header.tax_account or "Sales Tax Payable",
            amount=header.computed_tax,
            description="Sales tax computed by QuickBooks",
        )
    ]


def _customer_postings(entry: Entry) -> list[Posting]:
    """An invoice debits receivables and credits its lines; a credit memo the reverse."""
    ar = entry.header.ar_ap_account or "Accounts Receivable"
    total = money(entry.total)
    party = _party_label(entry)
    lines = [*entry.lines, *_computed_tax_lines(entry)]
    if entry.kind is EntryKind.INVOICE:
        head = Posting(account=ar, debit=total, memo=f"Invoice to {party}")
        return [head, *_line_postings(lines, Side.CREDIT, "Income")]
    body = _line_postings(lines, Side.DEBIT, "Income")
    return [*body, Posting(account=ar, credit=total, memo=f"Credit to {party}")]


def _vendor_postings(entry: Entry) -> list[Posting]:
    """A bill credits payables and debits its lines; a vendor credit the reverse."""
    ap = entry.header.ar_ap_account or "Accounts Payable"
    total = money(entry.total)
    party = _party_label(entry)
    if entry.kind is EntryKind.BILL:
        body = _line_postings(entry.lines, Side.DEBIT, "Expense")
        return [*body, Posting(account=ap, credit=total, memo=f"Bill from {party}")]
    body = _line_postings(entry.lines, Side.CREDIT, "Expense")
    return [Posting(account=ap, debit=total, memo=f"Credit from {party}"), *body]
