"""Reading Cin7 Omni documents as the API returns them, whatever their key casing.

The API emits camelCase (``modifiedCOGSDate``), request examples mix in PascalCase, and every
field may be null. ``Cin7Doc`` looks keys up case-insensitively and turns values into the
types the rules need, with one place that knows Cin7's date formats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from omni2qbd_shared.cin7_dates import parse_cin7_datetime
from omni2qbd_shared.entries import to_decimal
from omni2qbd_shared.kinds import Cin7Kind as Cin7Kind  # re-exported for the rules

# Names other parts of the system (routing keys, API resource names) use for the same kinds.
_KIND_ALIASES = {
    "salesorder": Cin7Kind.SALES_ORDER,
    "salesorders": Cin7Kind.SALES_ORDER,
    "so": Cin7Kind.SALES_ORDER,
    "purchaseorder": Cin7Kind.PURCHASE_ORDER,
    "purchaseorders": Cin7Kind.PURCHASE_ORDER,
    "po": Cin7Kind.PURCHASE_ORDER,
    "creditnote": Cin7Kind.CREDIT_NOTE,
    "creditnotes": Cin7Kind.CREDIT_NOTE,
    "cn": Cin7Kind.CREDIT_NOTE,
    "suppliercreditnote": Cin7Kind.SUPPLIER_CREDIT_NOTE,
    "suppliercreditnotes": Cin7Kind.SUPPLIER_CREDIT_NOTE,
    "adjustment": Cin7Kind.ADJUSTMENT,
    "adjustments": Cin7Kind.ADJUSTMENT,
    "stockadjustment": Cin7Kind.ADJUSTMENT,
    "stockadjustments": Cin7Kind.ADJUSTMENT,
    "inventoryvalue": Cin7Kind.INVENTORY_VALUE,
    "stockvalue": Cin7Kind.INVENTORY_VALUE,
    "inventoryvalues": Cin7Kind.INVENTORY_VALUE,
    "stockvalues": Cin7Kind.INVENTORY_VALUE,
    "contact": Cin7Kind.CONTACT,
    "product": Cin7Kind.PRODUCT,
    "products": Cin7Kind.PRODUCT,
    "contacts": Cin7Kind.CONTACT,
}


class UnknownKind(ValueError):
    pass


def parse_kind(value: str) -> Cin7Kind:
    folded = re.sub(r"[^a-z]", "", value.lower())
    if folded in _KIND_ALIASES:
        return _KIND_ALIASES[folded]
    for kind in Cin7Kind:
        if folded == kind.value.replace("_", ""):
            return kind
    raise UnknownKind(
        f"unknown document kind {value!r}; use one of {', '.join(k.value for k in Cin7Kind)}"
    )


def _fold(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): value for key, value in mapping.items()}


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The tenant's calendar date of a UTC instant (an invoice at 22:00Z is tomorrow in NZ)."""
    return moment.astimezone(zone).date()


class Cin7Doc:
    """Case-insensitive, null-tolerant access to one Cin7 document or line."""

    def __init__(self, payload: Mapping[str, Any], prefix: str = "") -> None:
        self.raw = payload
        self.prefix = prefix  # "lineItems[2]." for a line: errors name the whole path
        self._data = _fold(payload)
        self._lines: dict[str, list[Cin7Doc]] = {}

    def has(self, name: str) -> bool:
        value = self._data.get(name.lower())
        return value is not None and value != ""

    def get(self, name: str) -> Any:
        return self._data.get(name.lower())

    def text(self, name: str) -> str | None:
        value = self._data.get(name.lower())
        if value is None:
            return None
        text = str(value).strip()
        return text or None

    def dec(self, name: str) -> Decimal:
        try:
            value = to_decimal(self._data.get(name.lower()))
        except ValueError as exc:
            raise ValueError(f"field {self.prefix}{name}: {exc}") from exc
        if not value.is_finite():
            # JSON readers accept NaN and Infinity; no amount or quantity can be either.
            raise ValueError(f"field {self.prefix}{name}: {value} is not a number")
        return value

    def opt_dec(self, name: str) -> Decimal | None:
        return self.dec(name) if self.has(name) else None

    def flag(self, name: str) -> bool:
        value = self._data.get(name.lower())
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def when(self, name: str) -> datetime | None:
        try:
            return parse_cin7_datetime(self._data.get(name.lower()))
        except ValueError as exc:
            raise ValueError(f"field {name}: {exc}") from exc

    def lines(self, name: str = "lineItems") -> list[Cin7Doc]:
        """The document's lines (read once; several rules walk them)."""
        key = name.lower()
        if key not in self._lines:
            value = self._data.get(key) or []
            if not isinstance(value, list):
                raise ValueError(f"field {name}: expected a list of lines")
            self._lines[key] = [
                Cin7Doc(line, f"{name}[{number}].")
                for number, line in enumerate(value)
                if isinstance(line, Mapping)
            ]
        return self._lines[key]

    def sub(self, name: str) -> Cin7Doc:
        value = self._data.get(name.lower())
        return Cin7Doc(value if isinstance(value, Mapping) else {})

    @property
    def id(self) -> str:
        value = self._data.get("id")
        return "" if value is None else str(value)

    def status(self) -> str:
        return (self.text("status") or "").upper()


def detect_kind(payload: Mapping[str, Any]) -> Cin7Kind:
    """Guess the kind of a Cin7 document from the fields only that kind has."""
    doc = Cin7Doc(payload)
    keys = set(doc._data)
    if {"stockvalue", "stock"} & keys and "lineitems" not in keys:
        return Cin7Kind.INVENTORY_VALUE
    if {"supplierinvoicereference", "fullyreceiveddate", "supplieracceptancedate"} & keys:
        # A negative purchase order is a supplier credit; the purchase rules decide that.
        return Cin7Kind.PURCHASE_ORDER
    if {"creditnotenumber", "creditnotedate", "salesreference", "customerreport"} & keys:
        return Cin7Kind.CREDIT_NOTE
    if {"adjustinaccountingsystem", "adjustmentreason"} & keys:
        return Cin7Kind.ADJUSTMENT
    if {"invoicenumber", "dispatcheddate", "stage", "customerorderno", "invoicedate"} & keys:
        return Cin7Kind.SALES_ORDER
    if "type" in keys and "lineitems" not in keys:
        return Cin7Kind.CONTACT
    raise UnknownKind(
        "cannot tell what kind of Cin7 document this is (no invoiceDate, supplierInvoiceReference, "
        "creditNoteNumber or adjustInAccountingSystem field); pass --kind"
    )
