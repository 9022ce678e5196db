"""Which Cin7 resources the fetcher syncs, under which document kind and by which dates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omni2qbd_shared.messages import Cin7Kind

MODIFIED = "modifiedDate"
MODIFIED_COGS = "modifiedCOGSDate"


@dataclass(frozen=True)
class KindSpec:
    """One synced resource. ``kind`` names its cursor and status rows."""

    kind: Cin7Kind
    resource: str
    date_fields: tuple[str, ...] = (MODIFIED,)

    def kind_of(self, payload: Mapping[str, Any]) -> Cin7Kind:
        """The kind a record is published as (see ``supplier_credit_note`` below)."""
        if self.resource == "PurchaseOrders" and is_supplier_credit(payload):
            return "supplier_credit_note"
        return self.kind

    @property
    def published_kinds(self) -> tuple[Cin7Kind, ...]:
        if self.resource == "PurchaseOrders":
            return (self.kind, "supplier_credit_note")
        return (self.kind,)


def is_supplier_credit(payload: Mapping[str, Any]) -> bool:
    """Cin7 Omni's API has no supplier credit notes (reference §11). Users record a return to a
    supplier as a purchase order with negative quantities; its total is then below zero."""
    total = payload.get("total")
    return isinstance(total, int | float) and total < 0


# COGS moves on sales orders and credit notes without modifiedDate changing (reference §4).
KINDS: tuple[KindSpec, ...] = (
    KindSpec("contact", "Contacts"),
    KindSpec("product", "Products"),
    KindSpec("sales_order", "SalesOrders", (MODIFIED, MODIFIED_COGS)),
    KindSpec("purchase_order", "PurchaseOrders"),
    KindSpec("credit_note", "CreditNotes", (MODIFIED, MODIFIED_COGS)),
    KindSpec("stock_adjustment", "Adjustments"),
)
