"""What a simulated company file holds, and the plain snapshots tests inspect.

Stored records keep the qbXML body QuickBooks would echo back (``extra``/``body``), so
any field a request carried comes back in the Ret; the few values the simulator reasons
about (names, amounts, links) are read from that body or kept as typed attributes.
Snapshots are frozen dataclasses with ``Decimal`` amounts, so an end-to-end test can
assert "exactly once" and totals to the cent without touching XML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree

NAME_KINDS = ("Customer", "Vendor", "Employee", "OtherName")
ITEM_KINDS = (
    "ItemService",
    "ItemNonInventory",
    "ItemOtherCharge",
    "ItemInventory",
    "ItemSalesTax",
    "ItemSalesTaxGroup",
    "ItemDiscount",
    "ItemSubtotal",
    "ItemPayment",
    "ItemGroup",
    "ItemInventoryAssembly",
    "ItemFixedAsset",
)
TERMS_KINDS = ("StandardTerms", "DateDrivenTerms")
# Items whose quantities QuickBooks tracks, posting their own COGS when sold.
INVENTORY_KINDS = ("ItemInventory", "ItemInventoryAssembly")

TXN_TYPES = ("Invoice", "Bill", "CreditMemo", "VendorCredit", "JournalEntry")
PAYMENT_TYPES = ("ReceivePayment", "BillPaymentCheck")


def list_family(kind: str) -> str:
    """Names are unique within a family: one name space for customers, vendors,
    employees and other names (status 3100), one for items, one for terms."""
    if kind in NAME_KINDS:
        return "Name"
    if kind in ITEM_KINDS:
        return "Item"
    if kind in TERMS_KINDS:
        return "Terms"
    return kind


@dataclass
class ListRecord:
    kind: str
    list_id: str
    name: str
    edit_sequence: str
    time_created: datetime
    time_modified: datetime
    parent_id: str | None = None
    is_active: bool = True
    account_type: str | None = None  # Account
    account_number: str | None = None  # Account
    tax_rate: Decimal | None = None  # ItemSalesTax
    is_taxable: bool | None = None  # SalesTaxCode
    price: Decimal | None = None  # items: sales price (or discount amount)
    cost: Decimal | None = None  # items: purchase cost
    account_id: str | None = None  # items: income/expense account
    sales_tax_code_id: str | None = None  # items, customers
    item_sales_tax_id: str | None = None  # customers: default sales tax item
    due_days: int | None = None  # StandardTerms
    external_guid: str | None = None
    # Fields from the Add request echoed in the Ret (addresses, phone, email, ...).
    extra: etree._Element | None = None


@dataclass
class Link:
    """A payment (or applied credit) linking two transactions."""

    txn_id: str
    txn_type: str
    txn_date: date
    ref_number: str | None
    amount: Decimal  # positive amount applied


@dataclass
class Txn:
    txn_type: str
    txn_id: str
    txn_number: int
    edit_sequence: str
    time_created: datetime
    time_modified: datetime
    # The Ret body without TxnCore and without computed totals: header fields with
    # resolved refs, and lines (each with TxnLineID and a computed Amount).
    body: etree._Element
    links: list[Link] = field(default_factory=list)
    time_deleted: datetime | None = None

    @property
    def deleted(self) -> bool:
        return self.time_deleted is not None


@dataclass(frozen=True)
class LineSnapshot:
    line_id: str
    kind: str  # "item", "expense", "debit", "credit"
    item: str | None
    account: str | None
    desc: str | None
    quantity: Decimal | None
    rate: Decimal | None
    amount: Decimal
    memo: str | None
    entity: str | None
    sales_tax_code: str | None


@dataclass(frozen=True)
class LinkSnapshot:
    txn_id: str
    txn_type: str
    txn_date: date
    ref_number: str | None
    amount: Decimal


@dataclass(frozen=True)
class TxnSnapshot:
    txn_type: str
    txn_id: str
    txn_number: int
    edit_sequence: str
    ref_number: str | None
    txn_date: date | None
    entity: str | None
    entity_list_id: str | None
    external_guid: str | None
    memo: str | None
    is_pending: bool | None
    subtotal: Decimal
    sales_tax_total: Decimal
    total: Decimal
    applied_amount: Decimal
    balance_remaining: Decimal
    is_paid: bool
    lines: tuple[LineSnapshot, ...]
    linked_txns: tuple[LinkSnapshot, ...]
    time_created: datetime
    time_modified: datetime
    deleted: bool


@dataclass(frozen=True)
class ListSnapshot:
    kind: str
    list_id: str
    name: str
    full_name: str
    is_active: bool
    edit_sequence: str
    time_modified: datetime
    account_type: str | None
    tax_rate: Decimal | None
    is_taxable: bool | None
    price: Decimal | None
    external_guid: str | None


@dataclass(frozen=True)
class TypeTotals:
    txn_type: str
    count: int
    total: Decimal


def jsonable(value: Any) -> Any:
    """Snapshots as JSON: Decimals as strings (never floats), dates ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
