"""The mapper's pure API: one Cin7 document in, entries and findings out.

``map_document`` touches no database and no network; the consumer, the gateway and
``omni2qbd preview`` call it with whatever view of the QuickBooks lists they have.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from omni2qbd_mapper.cin7doc import Cin7Doc, Cin7Kind, detect_kind, parse_kind
from omni2qbd_mapper.context import MappingContext
from omni2qbd_mapper.result import DocumentStatus, MappingResult, PostedEntry
from omni2qbd_mapper.rules.adjustments import map_adjustment, map_inventory_value
from omni2qbd_mapper.rules.lists_gate import hold_until_lists_read
from omni2qbd_mapper.rules.purchases import map_purchase_order
from omni2qbd_mapper.rules.sales import map_credit_note, map_sales_order
from omni2qbd_shared.qb_lists import QbLists, QbListsView
from omni2qbd_shared.revision import revision_of
from omni2qbd_shared.tenant_settings import TenantSettings

_RULES: dict[Cin7Kind, Callable[[MappingContext], MappingResult]] = {
    Cin7Kind.SALES_ORDER: map_sales_order,
    Cin7Kind.CREDIT_NOTE: map_credit_note,
    Cin7Kind.PURCHASE_ORDER: map_purchase_order,
    Cin7Kind.SUPPLIER_CREDIT_NOTE: map_purchase_order,
    Cin7Kind.ADJUSTMENT: map_adjustment,
    Cin7Kind.INVENTORY_VALUE: map_inventory_value,
}


def map_document(
    kind: str | Cin7Kind | None,
    payload: Mapping[str, Any],
    settings: TenantSettings,
    lists: QbListsView | None = None,
    *,
    tenant_id: str = "local",
    revision: str | None = None,
    posted: Sequence[PostedEntry] = (),
    cin7_id: str | None = None,
) -> MappingResult:
    """Map one Cin7 document (as the API returns it) to QuickBooks entries.

    ``kind`` may be None to detect it from the fields. ``revision`` defaults to the sha256 of
    the canonical payload (what the fetcher stamps). ``posted`` lists entries of earlier
    revisions that reached QuickBooks (needed to reverse a document voided after posting).
    ``cin7_id`` is the id the document was published under (default: its ``id`` field).
    Raises ValueError with a plain message when the payload cannot be read at all.
    """
    if kind is None:
        resolved = detect_kind(payload)
    elif isinstance(kind, Cin7Kind):
        resolved = kind
    else:
        resolved = parse_kind(kind)
    view = lists if lists is not None else QbLists.empty()
    ctx = MappingContext(
        kind=resolved,
        doc=Cin7Doc(payload),
        settings=settings,
        lists=view,
        tenant_id=tenant_id,
        revision=revision or revision_of(payload),
        posted=posted,
        source_id=cin7_id,
    )
    rule = _RULES.get(resolved)
    if rule is None:
        # Contacts are not imported on their own: they are created with the first transaction.
        return MappingResult(kind=resolved.value, document=ctx.label, status=DocumentStatus.IGNORED)
    return hold_until_lists_read(rule(ctx), view)
