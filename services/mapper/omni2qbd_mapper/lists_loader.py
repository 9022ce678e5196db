"""Building the mapper's ``QbListsView`` from the gateway's mirror tables (read-only here)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from sqlalchemy import func
from sqlalchemy import select as select_columns  # any number of columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.models import ContactMatch, QbLink, QbListCursor, QbListItem
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.kinds import TRANSACTION_KIND, MapperState
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
_LIVE_STATES = (
    MapperState.READY,
    MapperState.NEEDS_ATTENTION,
    MapperState.FAILED,
    MapperState.POSTED,
    MapperState.LOCKED,
)


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
            col(EntryRow.state).in_((MapperState.POSTED, MapperState.LOCKED)),
            col(EntryRow.entry_kind).in_(tuple(TRANSACTION_KIND.values())),
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


class AskedRefNumbers(dict[tuple[str, str], str]):
    """RefNumber owners read on demand: ``QbLists.ref_number_owner`` looks them up here, and
    the keys it asked for that are not known yet are remembered in ``asked``, so the mapper
    reads their owners (``ref_number_owners``) and maps again (see ``handlers.map_and_store``).

    Reading every RefNumber of the tenant for each batch made a document's cost grow with
    what is stored (issue 15); mapping is cheap (well under a millisecond), so mapping a
    document twice when it asks for unknown RefNumbers costs less than that read.
    """

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[tuple[str, str]] = set()
        self.read: set[tuple[str, str]] = set()  # looked up in the database already
        self.looked_up: set[tuple[str, str]] | None = None  # every key asked, while set

    def get(self, key: tuple[str, str], default: Any = None) -> Any:
        if key not in self and key not in self.read:
            self.asked.add(key)
        if self.looked_up is not None:
            self.looked_up.add(key)
        return super().get(key, default)

    def unknown(self) -> set[tuple[str, str]]:
        return self.asked - self.read


async def ref_number_owners(
    session: AsyncSession, tenant_id: str, wanted: set[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Who holds these (entry kind, case-folded RefNumber): live entries, then QuickBooks
    links (a link wins, as in the full read). Indexed by migration 0018 (lower(ref_number));
    compared again with casefold here, as ``QbLists`` does."""
    found: dict[tuple[str, str], str] = {}
    kinds = sorted({kind for kind, _ in wanted})
    refs = sorted({ref.lower() for _, ref in wanted})
    for start in range(0, len(refs), 500):
        chunk = refs[start : start + 500]
        entry_refs = await session.exec(
            select(EntryRow.entry_kind, EntryRow.ref_number, EntryRow.source_kind, EntryRow.cin7_id)
            .where(EntryRow.tenant_id == tenant_id, col(EntryRow.entry_kind).in_(kinds))
            .where(func.lower(EntryRow.ref_number).in_(chunk))
            .where(col(EntryRow.state).in_(_LIVE_STATES))
        )
        link_refs = await session.exec(
            select(QbLink.entry_kind, QbLink.ref_number, QbLink.source_kind, QbLink.cin7_id)
            .where(QbLink.tenant_id == tenant_id, col(QbLink.entry_kind).in_(kinds))
            .where(func.lower(QbLink.ref_number).in_(chunk))
        )
        for entry_kind, ref_number, source_kind, cin7_id in [*entry_refs.all(), *link_refs.all()]:
            key = (entry_kind, (ref_number or "").casefold())
            if key in wanted:
                found[key] = f"{source_kind}:{cin7_id}"
    return found


async def load_lists(
    session: AsyncSession,
    tenant_id: str,
    *,
    exchange_rates: bool = False,
    lazy_ref_numbers: bool = False,
) -> QbLists:
    """The tenant's view; ``exchange_rates`` (multi-currency tenants) adds the previous rate
    per currency for the plausibility check. ``lazy_ref_numbers``: RefNumber owners are not
    read here but on demand (``AskedRefNumbers``; the mapper's own handlers)."""
    lists = QbLists.for_tenant(await _read_lists(session, tenant_id))
    if exchange_rates:
        lists.exchange_rates = await _exchange_rates(session, tenant_id)
    rows = await _list_rows(session, tenant_id)
    _add_mirrored(lists, rows)
    _add_other_names(lists, rows)
    await _add_matches(session, tenant_id, lists, rows)
    if lazy_ref_numbers:
        lists.ref_numbers = AskedRefNumbers()
        return lists
    await _add_ref_number_owners(session, tenant_id, lists)
    return lists


class _ListRow(Protocol):
    """The columns of a ``QbListItem`` the view is built from."""

    list_type: str
    list_id: str
    full_name: str
    is_active: bool
    data: dict[str, Any] | None


async def _list_rows(
    session: AsyncSession, tenant_id: str, *, list_type: str | None = None
) -> Sequence[_ListRow]:
    # Plain rows, not ORM objects: building a thousand model instances per batch was most of
    # this read's 27 ms, and the lists are read once per batch of documents or results.
    columns = (
        col(QbListItem.list_type),
        col(QbListItem.list_id),
        col(QbListItem.full_name),
        col(QbListItem.is_active),
        col(QbListItem.data),
    )
    query: Any = select_columns(*columns).where(
        col(QbListItem.tenant_id) == tenant_id, col(QbListItem.is_active)
    )
    if list_type is not None:
        query = query.where(col(QbListItem.list_type) == list_type)
    rows: Sequence[_ListRow] = (await session.exec(query)).all()  # Rows: the same attributes
    return rows


async def load_cogs_lists(session: AsyncSession, tenant_id: str) -> QbLists:
    """What a COGS month's journal asks of the lists (``rules.cogs.map_cogs_sums``): which
    lists the gateway has read, and the accounts. ``load_lists`` read every customer and
    item of the tenant for each batch of results, a cost growing with the tenant (issue
    15); for these questions its answers are the same."""
    lists = QbLists.for_tenant(await _read_lists(session, tenant_id))
    _add_mirrored(lists, await _list_rows(session, tenant_id, list_type="account"))
    lists.ref_numbers = AskedRefNumbers()
    return lists


def _add_mirrored(lists: QbLists, rows: Sequence[_ListRow]) -> None:
    grouped: dict[ListName, list[QbListElement]] = {}
    for row in rows:
        name = _MIRRORED.get(row.list_type)
        if name is None:
            continue
        grouped.setdefault(name, []).append(_element(row, name))
        # Sales tax items are items too: an item line may name one.
        if name == "sales_tax_item":
            grouped.setdefault("item", []).append(
                QbListElement(
                    list_id=row.list_id, full_name=row.full_name, item_type="ItemSalesTax"
                )
            )
    for list_name, elements in grouped.items():
        lists.add(list_name, elements)


def _element(row: _ListRow, name: ListName) -> QbListElement:
    data = row.data or {}
    return QbListElement(
        list_id=row.list_id,
        full_name=row.full_name,
        email=data.get("email"),
        is_active=row.is_active,
        tax_rate=_rate(data.get("tax_rate")),
        item_type=_item_type(data) if name == "item" else None,
        sales_tax_code=data.get("sales_tax_code") if name == "customer" else None,
    )


def _add_other_names(lists: QbLists, rows: Sequence[_ListRow]) -> None:
    for row in rows:
        if row.list_type in ("employee", "other_name"):
            lists.add_names(
                "employee" if row.list_type == "employee" else "other_name", [row.full_name]
            )


async def _add_matches(
    session: AsyncSession, tenant_id: str, lists: QbLists, rows: Sequence[_ListRow]
) -> None:
    current_names = {row.list_id: row.full_name for row in rows}
    columns = (ContactMatch.cin7_kind, ContactMatch.cin7_id, ContactMatch.qb_list_id)
    matches = select(*columns, ContactMatch.qb_name).where(ContactMatch.tenant_id == tenant_id)
    for cin7_kind, cin7_id, qb_list_id, qb_name in (await session.exec(matches)).all():
        target = _MATCH_LISTS.get(cin7_kind)
        # A match without a ListID is a confirmed "create it on import": nothing to link yet.
        if target is not None and qb_list_id:
            lists.add_match(
                target,
                cin7_id,
                # The ListID is the match; the name follows renames in QuickBooks.
                QbListElement(list_id=qb_list_id, full_name=current_names.get(qb_list_id, qb_name)),
            )


async def _add_ref_number_owners(session: AsyncSession, tenant_id: str, lists: QbLists) -> None:
    """Every RefNumber of the tenant's live entries and QuickBooks links, and who holds it."""
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
