"""Building the mapper's ``QbListsView`` from the gateway's mirror tables (read-only here)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.models import ContactMatch, QbLink, QbListCursor, QbListItem
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


def _item_type(data: dict[str, str]) -> str | None:
    ret = data.get("ret") or ""
    return ret.removesuffix("Ret") if ret.startswith("Item") else None


async def _read_lists(session: AsyncSession, tenant_id: str) -> list[str]:
    """The lists the gateway has read from QuickBooks at least once."""
    cursors = (await session.exec(scoped(QbListCursor, tenant_id))).all()
    return [
        _MIRRORED[c.list_type]
        for c in cursors
        if c.refreshed_at is not None and c.list_type in _MIRRORED
    ]


# How far back the previous exchange rate per currency is looked for.
RATE_HISTORY = 500


async def _exchange_rates(session: AsyncSession, tenant_id: str) -> dict[str, Decimal]:
    """The newest exchange rate per currency among the latest entries in QuickBooks."""
    rows = await session.exec(
        scoped(EntryRow, tenant_id)
        .where(
            col(EntryRow.state).in_(("posted", "locked")),
            col(EntryRow.entry_kind).in_(("invoice", "credit_memo", "bill", "vendor_credit")),
        )
        .order_by(col(EntryRow.txn_date).desc())
        .limit(RATE_HISTORY)
    )
    newest: dict[str, tuple[str, Decimal]] = {}
    for row in rows.all():
        body = row.body or {}
        rate = _rate((body.get("header") or {}).get("exchange_rate"))
        currency = str(body.get("currency") or "").upper()
        if rate is None or not currency:
            continue
        when = row.txn_date or ""
        if currency not in newest or when >= newest[currency][0]:
            newest[currency] = (when, rate)
    return {currency: rate for currency, (_when, rate) in newest.items()}


async def load_lists(
    session: AsyncSession, tenant_id: str, *, exchange_rates: bool = False
) -> QbLists:
    """The tenant's view; ``exchange_rates`` (multi-currency tenants) adds the previous rate
    per currency for the plausibility check."""
    lists = QbLists.for_tenant(await _read_lists(session, tenant_id))
    if exchange_rates:
        lists.exchange_rates = await _exchange_rates(session, tenant_id)
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
                item_type=_item_type(data) if name == "item" else None,
                sales_tax_code=data.get("sales_tax_code") if name == "customer" else None,
            )
        )
        # Sales tax items are items too: an item line may name one.
        if name == "sales_tax_item":
            grouped.setdefault("item", []).append(
                QbListElement(
                    list_id=row.list_id, full_name=row.full_name, item_type="ItemSalesTax"
                )
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

    # Only the four columns: decoding every stored entry's JSON body here, for each document
    # mapped, was what made a document's cost grow with what is stored (issue 15).
    owners: dict[str, dict[str, str]] = {}
    entry_refs = await session.exec(
        select(EntryRow.entry_kind, EntryRow.ref_number, EntryRow.source_kind, EntryRow.cin7_id)
        .where(EntryRow.tenant_id == tenant_id)
        .where(col(EntryRow.ref_number).is_not(None), col(EntryRow.state).in_(_LIVE_STATES))
    )
    link_refs = await session.exec(
        select(QbLink.entry_kind, QbLink.ref_number, QbLink.source_kind, QbLink.cin7_id)
        .where(QbLink.tenant_id == tenant_id)
        .where(col(QbLink.ref_number).is_not(None))
    )
    for entry_kind, ref_number, source_kind, cin7_id in [*entry_refs.all(), *link_refs.all()]:
        owners.setdefault(entry_kind, {})[ref_number or ""] = f"{source_kind}:{cin7_id}"
    for entry_kind, refs in owners.items():
        lists.add_ref_numbers(entry_kind, refs)
    return lists
