"""Building the mapper's ``QbListsView`` from the gateway's mirror tables (read-only here)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.models import ContactMatch, QbLink, QbListItem
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.qb_lists import ListName, QbListElement, QbLists

# Gateway mirror list types -> the lists the rules ask about.
_MIRRORED: dict[str, ListName] = {
    "customer": "customer",
    "vendor": "vendor",
    "item": "item",
    "account": "account",
    "class": "class",
    "sales_tax_item": "sales_tax_item",
}
# ContactMatch.cin7_kind -> list
_MATCH_LISTS = {"customer": "customer", "supplier": "vendor", "vendor": "vendor", "product": "item"}
_LIVE_STATES = ("ready", "needs_attention", "failed", "posted", "locked")


def _rate(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


async def load_lists(session: AsyncSession, tenant_id: str) -> QbLists:
    lists = QbLists()
    rows = (await session.exec(scoped(QbListItem, tenant_id).where(QbListItem.is_active))).all()
    grouped: dict[ListName, list[QbListElement]] = {}
    for row in rows:
        name = _MIRRORED.get(row.list_type)
        if name is None:
            continue
        data = row.data or {}
        grouped.setdefault(name, []).append(
            QbListElement(
                list_id=row.list_id,
                full_name=row.full_name,
                email=data.get("email"),
                is_active=row.is_active,
                tax_rate=_rate(data.get("tax_rate")),
            )
        )
        # Sales tax items are items too: an item line may name one.
        if name == "sales_tax_item":
            grouped.setdefault("item", []).append(
                QbListElement(list_id=row.list_id, full_name=row.full_name)
            )
    for list_name, elements in grouped.items():
        lists.add(list_name, elements)

    current_names = {row.list_id: row.full_name for row in rows}
    for row in rows:
        if row.list_type in ("employee", "other_name"):
            lists.add_names(
                "employee" if row.list_type == "employee" else "other_name", [row.full_name]
            )
    for match in (await session.exec(scoped(ContactMatch, tenant_id))).all():
        target = _MATCH_LISTS.get(match.cin7_kind)
        # A match without a ListID is a confirmed "create it on import": nothing to link yet.
        if target is not None and match.qb_list_id:
            lists.add_match(
                target,
                match.cin7_id,
                # The ListID is the match; the name follows renames in QuickBooks.
                QbListElement(
                    list_id=match.qb_list_id,
                    full_name=current_names.get(match.qb_list_id, match.qb_name),
                ),
            )

    owners: dict[str, dict[str, str]] = {}
    entry_rows = await session.exec(
        scoped(EntryRow, tenant_id).where(
            col(EntryRow.ref_number).is_not(None), col(EntryRow.state).in_(_LIVE_STATES)
        )
    )
    for entry in entry_rows.all():
        owners.setdefault(entry.entry_kind, {})[entry.ref_number or ""] = (
            f"{entry.source_kind}:{entry.cin7_id}"
        )
    links = await session.exec(scoped(QbLink, tenant_id).where(col(QbLink.ref_number).is_not(None)))
    for link in links.all():
        owners.setdefault(link.entry_kind, {})[link.ref_number or ""] = (
            f"{link.source_kind}:{link.cin7_id}"
        )
    for entry_kind, refs in owners.items():
        lists.add_ref_numbers(entry_kind, refs)
    return lists
