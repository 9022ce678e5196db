"""Which Cin7 resources the fetcher syncs, under which document kind and by which dates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omni2qbd_shared.kinds import CIN7_RESOURCE, Cin7Kind

MODIFIED = "modifiedDate"
MODIFIED_COGS = "modifiedCOGSDate"


@dataclass(frozen=True)
class KindSpec:
    """One synced resource. ``kind`` names its cursor and status rows."""

    kind: Cin7Kind
    date_fields: tuple[str, ...] = (MODIFIED,)

    @property
    def resource(self) -> str:
        """The Cin7 Omni API resource read (``kinds.CIN7_RESOURCE``)."""
        return CIN7_RESOURCE[self.kind]

    def kind_of(self, payload: Mapping[str, Any]) -> Cin7Kind:
        """The kind a record is published as (see ``supplier_credit_note`` below)."""
        if self.resource == "PurchaseOrders" and is_supplier_credit(payload):
            return Cin7Kind.SUPPLIER_CREDIT_NOTE
        return self.kind

    @property
    def published_kinds(self) -> tuple[Cin7Kind, ...]:
        if self.resource == "PurchaseOrders":
            return (self.kind, Cin7Kind.SUPPLIER_CREDIT_NOTE)
        return (self.kind,)


def is_supplier_credit(payload: Mapping[str, Any]) -> bool:
    """Cin7 Omni's API has no supplier credit notes (reference §11). Users record a return to a
    supplier as a purchase order with negative quantities; its total is then below zero."""
    total = payload.get("total")
    return isinstance(total, int | float) and total < 0


# COGS moves on sales orders and credit notes without modifiedDate changing (reference §4).
KINDS: tuple[KindSpec, ...] = (
    KindSpec(Cin7Kind.CONTACT),
    KindSpec(Cin7Kind.PRODUCT),
    KindSpec(Cin7Kind.SALES_ORDER, (MODIFIED, MODIFIED_COGS)),
    KindSpec(Cin7Kind.PURCHASE_ORDER),
    KindSpec(Cin7Kind.CREDIT_NOTE, (MODIFIED, MODIFIED_COGS)),
    KindSpec(Cin7Kind.ADJUSTMENT),
)
