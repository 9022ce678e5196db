"""The bridge's vocabulary, once: Cin7 document kinds with their API resource, entry kinds with
their QuickBooks type and label, and entry states with the mapper -> gateway translation.

Stored strings are the enum values, unchanged (no data migration): a StrEnum equals and hashes
like its value, so maps below answer plain strings read from the database or a message too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class Cin7Kind(StrEnum):
    SALES_ORDER = "sales_order"
    PURCHASE_ORDER = "purchase_order"
    CREDIT_NOTE = "credit_note"
    SUPPLIER_CREDIT_NOTE = "supplier_credit_note"
    # Names as the fetcher publishes them (``Cin7DocumentMessage.kind``).
    ADJUSTMENT = "stock_adjustment"
    INVENTORY_VALUE = "stock_value"
    CONTACT = "contact"
    PRODUCT = "product"


# How a person is told about a Cin7 document of each kind ("Sales order SO-1001 ...").
CIN7_LABEL: dict[str, str] = {
    Cin7Kind.SALES_ORDER: "Sales order",
    Cin7Kind.PURCHASE_ORDER: "Purchase order",
    Cin7Kind.CREDIT_NOTE: "Credit note",
    Cin7Kind.SUPPLIER_CREDIT_NOTE: "Supplier credit note",
    Cin7Kind.ADJUSTMENT: "Stock adjustment",
    Cin7Kind.INVENTORY_VALUE: "Inventory valuation",
    Cin7Kind.CONTACT: "Contact",
    Cin7Kind.PRODUCT: "Product",
}

# The same, counted ("1500 sales orders"), as the demo's summary lists what it fetched.
CIN7_PLURAL: dict[str, str] = {
    Cin7Kind.SALES_ORDER: "sales orders",
    Cin7Kind.PURCHASE_ORDER: "purchase orders",
    Cin7Kind.CREDIT_NOTE: "credit notes",
    Cin7Kind.SUPPLIER_CREDIT_NOTE: "supplier credit notes",
    Cin7Kind.ADJUSTMENT: "stock adjustments",
    Cin7Kind.INVENTORY_VALUE: "inventory valuations",
    Cin7Kind.CONTACT: "contacts",
    Cin7Kind.PRODUCT: "products",
}


# The Cin7 Omni API resource each kind is read from (the fetcher) and a document's link points
# to (the gateway). Cin7 has no supplier credit notes: they are purchase orders with a negative
# total (reference §11). The inventory valuation is no API resource.
CIN7_RESOURCE: dict[str, str] = {
    Cin7Kind.CONTACT: "Contacts",
    Cin7Kind.PRODUCT: "Products",
    Cin7Kind.SALES_ORDER: "SalesOrders",
    Cin7Kind.PURCHASE_ORDER: "PurchaseOrders",
    Cin7Kind.SUPPLIER_CREDIT_NOTE: "PurchaseOrders",
    Cin7Kind.CREDIT_NOTE: "CreditNotes",
    Cin7Kind.ADJUSTMENT: "Adjustments",
}


class EntryKind(StrEnum):
    INVOICE = "invoice"
    BILL = "bill"
    CREDIT_MEMO = "credit_memo"
    VENDOR_CREDIT = "vendor_credit"
    JOURNAL = "journal"
    CUSTOMER_ADD = "customer_add"
    VENDOR_ADD = "vendor_add"


# The Cin7 documents that become a QuickBooks transaction, and the entry kind each becomes.
TRANSACTION_KIND: dict[str, EntryKind] = {
    Cin7Kind.SALES_ORDER: EntryKind.INVOICE,
    Cin7Kind.PURCHASE_ORDER: EntryKind.BILL,
    Cin7Kind.CREDIT_NOTE: EntryKind.CREDIT_MEMO,
    Cin7Kind.SUPPLIER_CREDIT_NOTE: EntryKind.VENDOR_CREDIT,
}

Party = Literal["customer", "supplier"]
# Whose Cin7 contact a transaction document carries.
PARTY_OF: dict[str, Party] = {
    Cin7Kind.SALES_ORDER: "customer",
    Cin7Kind.CREDIT_NOTE: "customer",
    Cin7Kind.PURCHASE_ORDER: "supplier",
    Cin7Kind.SUPPLIER_CREDIT_NOTE: "supplier",
}

# The qbXML object each entry kind becomes (``InvoiceAddRq``, ``TxnType`` in queries, ...).
QB_TYPE: dict[str, str] = {
    EntryKind.INVOICE: "Invoice",
    EntryKind.CREDIT_MEMO: "CreditMemo",
    EntryKind.BILL: "Bill",
    EntryKind.VENDOR_CREDIT: "VendorCredit",
    EntryKind.JOURNAL: "JournalEntry",
    EntryKind.CUSTOMER_ADD: "Customer",
    EntryKind.VENDOR_ADD: "Vendor",
}

# QuickBooks' own title of each transaction kind, spaced as its windows and reports print it
# ("Credit Memo CM-12"); lists' add-entries have none.
QB_TITLE: dict[str, str] = {
    EntryKind.INVOICE: "Invoice",
    EntryKind.CREDIT_MEMO: "Credit Memo",
    EntryKind.BILL: "Bill",
    EntryKind.VENDOR_CREDIT: "Vendor Credit",
    EntryKind.JOURNAL: "Journal Entry",
}

# The same, counted, as the demo's summary heads its table ("Credit Memos").
QB_TITLE_PLURAL: dict[str, str] = {
    EntryKind.INVOICE: "Invoices",
    EntryKind.CREDIT_MEMO: "Credit Memos",
    EntryKind.BILL: "Bills",
    EntryKind.VENDOR_CREDIT: "Vendor Credits",
    EntryKind.JOURNAL: "Journal Entries",
}

# How a person is told about an entry of each kind, in a sentence ("the credit memo ...").
ENTRY_LABEL: dict[str, str] = {
    EntryKind.INVOICE: "invoice",
    EntryKind.CREDIT_MEMO: "credit memo",
    EntryKind.BILL: "bill",
    EntryKind.VENDOR_CREDIT: "vendor credit",
    EntryKind.JOURNAL: "journal entry",
    EntryKind.CUSTOMER_ADD: "new customer",
    EntryKind.VENDOR_ADD: "new vendor",
}


# What an add-entry becomes in QuickBooks, as the console names it where the entry's label
# ("new customer") would not say it: a name on that list.
ADDED_TO_LIST: dict[str, str] = {
    EntryKind.CUSTOMER_ADD: "Customer (added to the customer list)",
    EntryKind.VENDOR_ADD: "Vendor (added to the vendor list)",
}


class MapperState(StrEnum):
    """An entry row's state in the mapper's store (``entries.state``)."""

    READY = "ready"
    NEEDS_ATTENTION = "needs_attention"
    SUPERSEDED = "superseded"
    VOID = "void"
    POSTED = "posted"
    LOCKED = "locked"
    FAILED = "failed"
    # A person decided the entry is not to be imported (Cin7's "Do Not Import").
    DO_NOT_IMPORT = "do_not_import"


class EntryState(StrEnum):
    """An outbox entry's state in the gateway (``outbox_items.state``)."""

    HELD = "held"
    READY = "ready"
    APPROVED = "approved"
    QUEUED = "queued"
    SENT = "sent"
    IN_DOUBT = "in_doubt"
    POSTED = "posted"
    FAILED = "failed"
    LOCKED = "locked"
    SUPERSEDED = "superseded"


# The state an entry message tells the gateway, by mapper state (the gateway calls a blocked
# entry "held"); a state not listed is sent as it is.
GATEWAY_STATE: dict[str, EntryState] = {
    MapperState.READY: EntryState.READY,
    MapperState.NEEDS_ATTENTION: EntryState.HELD,
    MapperState.SUPERSEDED: EntryState.SUPERSEDED,
    MapperState.VOID: EntryState.SUPERSEDED,
    MapperState.DO_NOT_IMPORT: EntryState.SUPERSEDED,
}


# The states an entry message offers an entry to the gateway in (``review_state``'s answers);
# any other withdraws it.
OFFERED_STATES = (EntryState.READY, EntryState.HELD)


def review_state(state: str) -> EntryState:
    """Where an offered entry waits in the gateway: ``held`` when the mapper holds it for a
    person (``needs_attention``, or already said as ``held``), else ``ready`` for approval."""
    held = GATEWAY_STATE.get(state, state) == EntryState.HELD
    return EntryState.HELD if held else EntryState.READY
